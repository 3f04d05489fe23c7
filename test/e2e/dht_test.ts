/**
 * Finding peers without trackers: a magnet link with nothing but its infohash is fetched from a seeder of ours
 * that only the DHT knows of. Every node is on 127.0.0.1 and joins through a router started here.
 */

import assert from "node:assert/strict";
import { startDownload } from "../../actors/client.ts";
import { parseMagnet } from "../../src/metainfo/magnet.ts";
import { startDhtRouter } from "../helpers/dht_router.ts";
import { testTorrent } from "../helpers/make_torrent.ts";
import { listeningPort, memorySeeder } from "../helpers/sessions.ts";
import { memoryStorage } from "../helpers/storage.ts";

Deno.test("a magnet link with no tracker and no x.pe downloads from a seeder found through the DHT", async () => {
  const { meta, data } = await testTorrent({
    size: 600_000,
    pieceLength: 32 * 1024,
    seed: 61,
    name: "d.bin",
  });
  const router = await startDhtRouter();
  const dht = { bootstrap: [router.address], queryTimeoutMs: 500 };
  const seeder = memorySeeder(meta, data, { dht });
  try {
    const seederPort = await listeningPort(seeder);
    // The seeder announces itself once it joined: the router keeps it for get_peers.
    for (let i = 0; i < 400 && router.node.store.size === 0; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(router.node.store.size, 1, "the seeder announced itself to the router");

    const out = memoryStorage();
    const leecher = startDownload(parseMagnet(`magnet:?xt=urn:btih:${meta.infoHashHex}`), {
      storage: out.open,
      listen: "127.0.0.1",
      port: 0,
      dht,
      noPeersTimeoutMs: 20_000,
    });
    const result = await leecher.done;
    assert(result.ok, result.error);
    assert.deepEqual(out.data(), data);
    assert.equal(result.book.get(`127.0.0.1:${seederPort}`)?.source, "dht", "the seeder came from the DHT");
  } finally {
    seeder.stop();
    await seeder.done;
    router.stop();
  }
});

Deno.test("a private torrent never starts the DHT", async () => {
  const { meta, data } = await testTorrent({
    size: 100_000,
    pieceLength: 32 * 1024,
    seed: 62,
    private: true,
  });
  const router = await startDhtRouter();
  const seeder = memorySeeder(meta, data, { dht: { bootstrap: [router.address] } });
  try {
    await listeningPort(seeder);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(seeder.actor.getSnapshot().children.dht, undefined);
    assert.equal(router.node.stats.received, 0, "nothing reached the router");
  } finally {
    seeder.stop();
    await seeder.done;
    router.stop();
  }
});
