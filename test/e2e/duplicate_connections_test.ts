/**
 * Two sessions that each know the other's address keep one connection between them, not two: a seeder told by
 * its tracker of a leecher that has already dialled it does not dial the leecher too.
 */

import assert from "node:assert/strict";
import { startDownload } from "../../actors/client.ts";
import { testTorrent } from "../helpers/make_torrent.ts";
import { memoryStorage } from "../helpers/storage.ts";
import { listeningPort, memorySeeder } from "../helpers/sessions.ts";
import { unusedPort } from "../helpers/ports.ts";
import { startTracker } from "../helpers/test_tracker.ts";

const connected = (s: { peers(): { state: string }[] }) =>
  s.peers().filter((p) => p.state.startsWith("connected")).length;

Deno.test("a seeder whose tracker names a leecher already connected to it keeps one connection to it", async () => {
  const leecherPort = unusedPort();
  // Everyone who announces hears of the leecher's listening address, the seeder first of all.
  const tracker = startTracker([{ host: "127.0.0.1", port: leecherPort }], 60);
  const { meta, data } = await testTorrent({
    size: 512 * 1024,
    pieceLength: 32 * 1024,
    seed: 61,
    announce: tracker.url,
  });
  // Over TCP: a uTP connection comes from its sender's listening port, so both ends name it as the other listens.
  const seeder = memorySeeder(meta, data, { utp: false });
  const seederPort = await listeningPort(seeder);
  // The seeder dialled the leecher's address at once and found nobody: it tries again after its back-off (4 s),
  // by when the leecher has dialled it and told it where it listens.
  const store = memoryStorage();
  const leecher = startDownload(meta, {
    storage: store.open,
    seed: {},
    listen: "127.0.0.1",
    port: leecherPort,
    utp: false,
    peers: [{ host: "127.0.0.1", port: seederPort }],
  });
  try {
    let most = 0;
    const end = Date.now() + 7000;
    while (Date.now() < end) {
      most = Math.max(most, connected(seeder), connected(leecher));
      await new Promise((r) => setTimeout(r, 25));
    }
    assert.deepEqual(store.data(), data);
    assert.equal(most, 1, "never two connections between the two");
    assert.equal(connected(seeder), 1);
    assert.equal(connected(leecher), 1);
  } finally {
    seeder.stop();
    leecher.stop();
    await Promise.all([seeder.done, leecher.done]);
    await tracker.close();
  }
});
