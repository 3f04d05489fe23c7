/** Both address families: a seeder listening by default takes peers over IPv6 (::1) and IPv4 (127.0.0.1). */

import assert from "node:assert/strict";
import { startDownload } from "../../actors/client.ts";
import { unmapped } from "../../src/common/peer_address.ts";
import { MemoryStorage } from "../../src/storage/storage.ts";
import { testTorrent } from "../helpers/make_torrent.ts";
import { listeningPort, memorySeeder } from "../helpers/sessions.ts";

const { meta, data } = await testTorrent({ size: 300_000, pieceLength: 16384, seed: 41 });

Deno.test("a default seeder serves a leecher over ::1 and one over 127.0.0.1, each seen at its own address", async () => {
  const seeder = memorySeeder(meta, data, { listen: undefined });
  const seen = new Set<string>();
  const watch = setInterval(() => seeder.peers().forEach((p) => seen.add(p.key.replace(/:\d+$/, ""))), 5);
  try {
    const port = await listeningPort(seeder);
    for (const host of ["::1", "127.0.0.1"]) {
      const storage = new MemoryStorage(meta.totalLength);
      const result = await startDownload(meta, {
        storage: () => Promise.resolve({ storage, existed: false }),
        peers: [{ host, port }],
        listen: false,
        noPeersTimeoutMs: 5000,
      }).done;
      assert(result.ok, `${host}: ${result.error}`);
      assert.deepEqual(storage.data, data, host);
    }
    assert.ok(seen.has("[::1]"), [...seen].join(" "));
    assert.ok(seen.has("127.0.0.1"), `an IPv4 peer is not shown as ::ffff:…: ${[...seen].join(" ")}`);
  } finally {
    clearInterval(watch);
    seeder.stop();
    await seeder.done;
  }
});

Deno.test("IPv4 addresses a dual-stack socket reports as IPv6 read as IPv4", () => {
  assert.equal(unmapped("::ffff:127.0.0.1"), "127.0.0.1");
  assert.equal(unmapped("::FFFF:10.1.2.3"), "10.1.2.3");
  assert.equal(unmapped("::1"), "::1");
  assert.equal(unmapped("2001:db8::ffff:1.2.3.4"), "2001:db8::ffff:1.2.3.4");
});
