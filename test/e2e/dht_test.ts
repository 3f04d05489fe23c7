/**
 * Finding peers without trackers: a magnet link with nothing but its infohash is fetched from a seeder of ours
 * that only the DHT knows of. Every node is on 127.0.0.1 and joins through a router started here.
 */

import assert from "node:assert/strict";
import dgram from "node:dgram";
import { startDownload } from "../../actors/client.ts";
import { parseMagnet } from "../../src/metainfo/magnet.ts";
import { startDhtRouter } from "../helpers/dht_router.ts";
import { runCli, testCacheDir } from "../helpers/cli.ts";
import { decodeSavedNodes } from "../../src/dht/saved_nodes.ts";
import type { DhtNode } from "../../src/dht/node.ts";
import { testTorrent } from "../helpers/make_torrent.ts";
import type { Metainfo } from "../../src/metainfo/metainfo.ts";
import { listeningPort, memorySeeder } from "../helpers/sessions.ts";
import { memoryStorage } from "../helpers/storage.ts";

/**
 * A router, a seeder of ours that announced `meta` through it, and a way to start leechers of a magnet link with
 * nothing but the infohash, all on 127.0.0.1.
 */
async function dhtSwarm(meta: Metainfo, data: Uint8Array) {
  const router = await startDhtRouter();
  const dht = { bootstrap: [router.address], queryTimeoutMs: 500 };
  const seeder = memorySeeder(meta, data, { dht });
  const seederPort = await listeningPort(seeder);
  // The seeder announces itself once it joined: the router keeps it for get_peers.
  for (let i = 0; i < 400 && router.node.store.size === 0; i++) await new Promise((r) => setTimeout(r, 10));
  return {
    router,
    seederPort,
    leech() {
      const out = memoryStorage();
      const session = startDownload(parseMagnet(`magnet:?xt=urn:btih:${meta.infoHashHex}`), {
        storage: out.open,
        listen: "127.0.0.1",
        port: 0,
        dht,
        noPeersTimeoutMs: 20_000,
      });
      return { session, data: out.data };
    },
    async close() {
      seeder.stop();
      await seeder.done;
      router.stop();
    },
  };
}

Deno.test("a magnet link with no tracker and no x.pe downloads from a seeder found through the DHT", async () => {
  const { meta, data } = await testTorrent({
    size: 600_000,
    pieceLength: 32 * 1024,
    seed: 61,
    name: "d.bin",
  });
  const swarm = await dhtSwarm(meta, data);
  try {
    assert.equal(swarm.router.node.store.size, 1, "the seeder announced itself to the router");
    const leecher = swarm.leech();
    const result = await leecher.session.done;
    assert(result.ok, result.error);
    assert.deepEqual(leecher.data(), data);
    assert.equal(
      result.book.get(`127.0.0.1:${swarm.seederPort}`)?.source,
      "dht",
      "the seeder came from the DHT",
    );
  } finally {
    await swarm.close();
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

Deno.test("garbage, bencode bombs and bogus answers thrown at the DHT port do not stop a download", async () => {
  const { meta, data } = await testTorrent({
    size: 4_000_000,
    pieceLength: 32 * 1024,
    seed: 63,
    name: "g.bin",
  });
  const swarm = await dhtSwarm(meta, data);
  const socket = dgram.createSocket("udp4");
  try {
    const { session: leecher, data: got } = swarm.leech();
    while (leecher.progress().port === 0 || leecher.actor.getSnapshot().children.dht === undefined) {
      await new Promise((r) => setTimeout(r, 5));
    }
    const port = leecher.progress().port;
    let node: { stats: { malformed: number; unmatched: number } } | undefined;
    const te = new TextEncoder();
    const bombs = [
      te.encode("l".repeat(3000) + "e".repeat(3000)), // nested far too deep
      te.encode("d1:t2:aa1:y1:r1:rd2:id20:" + "x".repeat(20) + "5:nodes25:" + "y".repeat(25) + "ee"), // truncated nodes
      te.encode("d1:t2:zz1:y1:r1:rd2:id20:" + "x".repeat(20) + "ee"), // an answer to nothing we asked
      te.encode("d1:ad2:id20:" + "x".repeat(20) + "e1:q9:vote_more1:t2:ab1:y1:qe"), // an unknown query
      new Uint8Array(4000), // zeros
      te.encode("i99999999999999999999999999e"),
    ];
    let sent = 0;
    const done = leecher.done;
    let finished = false;
    done.then(() => (finished = true));
    while (!finished && sent < 20_000) {
      for (let k = 0; k < 50; k++, sent++) {
        const packet = sent % 7 === 6
          ? crypto.getRandomValues(new Uint8Array(sent % 1400))
          : bombs[sent % bombs.length];
        socket.send(packet, port, "127.0.0.1");
      }
      node ??=
        (leecher.actor.getSnapshot().children.dht?.getSnapshot() as { context?: { node?: typeof node } })
          ?.context?.node;
      await new Promise((r) => setTimeout(r, 2));
    }
    const result = await done;
    assert(result.ok, result.error);
    assert.deepEqual(got(), data);
    console.log(`${sent} bad datagrams sent to the leecher's DHT port during the download`);
    assert(sent >= 500, `only ${sent} sent before the download ended`);
    assert(node && node.stats.malformed > 0 && node.stats.unmatched > 0, "dropped and counted");
  } finally {
    socket.close();
    await swarm.close();
  }
});

Deno.test("peers that both run a DHT node tell each other its port, and each node pings the other into its table", async () => {
  const { meta, data } = await testTorrent({
    size: 2_000_000,
    pieceLength: 32 * 1024,
    seed: 64,
    name: "p.bin",
  });
  // No bootstrap node at all: only the port message can make the two nodes meet.
  const dht = { bootstrap: [], queryTimeoutMs: 500 };
  const seeder = memorySeeder(meta, data, { dht });
  try {
    const seederPort = await listeningPort(seeder);
    const leecher = startDownload(meta, {
      storage: memoryStorage().open,
      listen: "127.0.0.1",
      port: 0,
      peers: [{ host: "127.0.0.1", port: seederPort }],
      dht,
      seed: { timeMs: 5000 },
    });
    const nodeOf = (s: typeof seeder) =>
      (s.actor.getSnapshot().children.dht?.getSnapshot() as { context?: { node?: DhtNode } } | undefined)
        ?.context?.node;
    for (let i = 0; i < 300 && !(nodeOf(leecher)?.table.size && nodeOf(seeder)?.table.size); i++) {
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.equal(
      nodeOf(leecher)?.table.get(nodeOf(seeder)!.id)?.port,
      seederPort,
      "the leecher's node has the seeder's",
    );
    assert.equal(nodeOf(seeder)?.table.size, 1, "and the seeder's the leecher's");
    const sample = leecher.sample().dht;
    assert.equal(sample?.state, "ready");
    assert.equal(sample?.nodes, 1, "what the live view and the trace show");
    assert(sample!.received > 0 && sample!.sent > 0);
    leecher.stop();
    const result = await leecher.done;
    assert(result.ok || result.stopped, result.error);
  } finally {
    seeder.stop();
    await seeder.done;
  }
});

Deno.test("the CLI saves its routing table at exit, starts from it next time, and ignores a damaged one in one line", async () => {
  const { torrent } = await testTorrent({ size: 50_000, pieceLength: 16384, seed: 65 });
  const router = await startDhtRouter();
  const dir = await Deno.makeTempDir();
  const cache = `${testCacheDir}/dht.json`;
  try {
    await Deno.writeFile(`${dir}/t.torrent`, torrent);
    await Deno.remove(cache).catch(() => {});
    const args = [`${dir}/t.torrent`, `${dir}/out`, "--dht-bootstrap", `127.0.0.1:${router.address.port}`];
    const first = await runCli([...args, "--no-peers-timeout", "1", "-q"]);
    assert.equal(first.code, 1, "no peer: it gives up, and saves the table on the way out");
    const saved = decodeSavedNodes(await Deno.readTextFile(cache));
    assert.deepEqual(saved.nodes.map((n) => n.port), [router.address.port]);
    const asked = router.node.stats.received;
    await runCli([...args, "--no-peers-timeout", "1", "-q"]);
    assert(router.node.table.get(saved.id), "the second run came back with the saved id");
    assert(router.node.stats.received > asked);
    await Deno.writeTextFile(cache, "garbage");
    const third = await runCli([...args, "--no-peers-timeout", "1", "-q"]);
    const warnings = third.stderr.split("\n").filter((l) => l.startsWith("warning: "));
    assert.deepEqual(warnings, [`warning: ignoring the saved DHT table ${cache}: not JSON`]);
  } finally {
    router.stop();
    await Deno.remove(dir, { recursive: true });
  }
});
