/**
 * Interop for finding peers: opentracker over UDP behind a dead first tier, HTTP and UDP scrapes of opentracker.
 * libtorrent seeds; our client runs in-process through the library API, so tracker time budgets can be short.
 */

import assert from "node:assert/strict";
import bencode from "bencode";
import { startDownload } from "../../actors/client.ts";
import { parseMetainfo } from "../../src/metainfo.ts";
import { scrapeFrom } from "../../src/trackers.ts";
import { UdpTrackerClient } from "../../src/udp_tracker_client.ts";
import { prepare, SHAPES } from "./shapes.ts";
import { freePort, installed, startLibtorrent, startOpentracker, waitForSeeders } from "./swarm.ts";

const ready = installed("opentracker") && installed("mktorrent") &&
  new Deno.Command("/usr/bin/python3", { args: ["-c", "import libtorrent"] }).outputSync().success;

/** The same torrent (same info dictionary, so the same infohash) with other tiers. */
function withTiers(torrent: Uint8Array, tiers: string[][]): Uint8Array {
  const dict = bencode.decode(torrent) as Record<string, unknown>;
  dict["announce"] = tiers[0][0];
  dict["announce-list"] = tiers;
  return bencode.encode(dict);
}

Deno.test({
  name: "UDP tracker: a dead first tier, then opentracker over UDP, then a download from libtorrent",
  ignore: !ready,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const work = await Deno.makeTempDir({ prefix: "discovery-" });
    await Deno.chmod(work, 0o755);
    const trackerPort = freePort();
    const http = `http://127.0.0.1:${trackerPort}/announce`;
    const udp = `udp://127.0.0.1:${trackerPort}/announce`;
    const shape = SHAPES.find((s) => s.name === "s256k.bin")!;
    const { files, torrentPath, meta } = await prepare(shape, `${work}/seed`, work, http);
    const tracker = await startOpentracker(`${work}/tracker`, trackerPort, [meta.infoHashHex]);
    const seeder = await startLibtorrent(torrentPath, `${work}/seed`);
    try {
      await waitForSeeders(http, meta.infoHash, 1);
      const options = { udp: new UdpTrackerClient({ retryBaseMs: 200 }), timeoutMs: 2000 };
      assert.equal((await scrapeFrom(udp, meta.infoHash, options)).seeders, 1, "UDP scrape");
      assert.equal((await scrapeFrom(http, meta.infoHash, options)).seeders, 1, "HTTP scrape");

      const dead = [`http://127.0.0.1:${freePort()}/announce`, `udp://127.0.0.1:${freePort()}/announce`];
      const ours = await parseMetainfo(withTiers(await Deno.readFile(torrentPath), [dead, [udp]]));
      assert.equal(ours.infoHashHex, meta.infoHashHex);
      const trackerErrors: string[] = [];
      const out = `${work}/dl/${shape.name}`;
      const result = await startDownload(ours, {
        out,
        port: freePort(),
        trackerTimeoutMs: 500,
        udpRetryMs: 200,
        inspect(e) {
          if (e.type === "@xstate.event" && e.event.type === "tracker.error") {
            trackerErrors.push(e.event.message);
          }
        },
      }).done;
      assert(result.ok, result.error);
      assert.deepEqual(await Deno.readFile(out), files[0].data);
      assert.deepEqual(trackerErrors, []);
      // Our `stopped` reached opentracker over UDP: it lists only libtorrent again.
      const after = await scrapeFrom(udp, meta.infoHash, options);
      assert.deepEqual([after.seeders, after.leechers], [1, 0]);
    } finally {
      await seeder.stop();
      await tracker.stop();
      await Deno.remove(work, { recursive: true });
    }
  },
});
