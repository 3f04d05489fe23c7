/**
 * Interop for finding peers: opentracker over UDP behind a dead first tier, HTTP and UDP scrapes of opentracker.
 * libtorrent seeds; our client runs in-process through the library API, so tracker time budgets can be short.
 */

import assert from "node:assert/strict";
import bencode from "bencode";
import { startDownload } from "../../actors/client.ts";
import { parseMetainfo } from "../../src/metainfo/metainfo.ts";
import { scrapeFrom } from "../../src/tracker/trackers.ts";
import { UdpTrackerClient } from "../../src/tracker/udp_client.ts";
import { prepare, SHAPES } from "./shapes.ts";
import {
  installed,
  runCli,
  scrapeSeeders,
  SEEDERS,
  startLibtorrent,
  startLibtorrentLeecher,
  startOpentracker,
  waitForSeeders,
} from "./swarm.ts";
import { freePort } from "../helpers/ports.ts";
import type { AddressBook } from "../../src/swarm/address_book.ts";

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
            trackerErrors.push(String(e.event.message));
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

Deno.test({
  name:
    "magnet links: metadata and data from libtorrent, aria2c and rtorrent (x.pe, and the tracker over UDP)",
  ignore: !ready || !SEEDERS.every((s) => installed(s.program)),
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    const work = await Deno.makeTempDir({ prefix: "magnet-" });
    await Deno.chmod(work, 0o755);
    const trackerPort = freePort();
    const http = `http://127.0.0.1:${trackerPort}/announce`;
    const udp = `udp://127.0.0.1:${trackerPort}/announce`;
    const shape = SHAPES.find((s) => s.name === "m4m")!; // multi-file: 3 files in nested folders
    const { files, torrentPath, meta } = await prepare(shape, `${work}/seed`, work, http, false);
    const tracker = await startOpentracker(`${work}/tracker`, trackerPort, [meta.infoHashHex]);
    const matrix: string[] = [];
    try {
      for (const seeder of SEEDERS) {
        for (const path of ["x.pe", "tr (UDP)"]) {
          await t.step(`${seeder.name} via ${path}`, async () => {
            const stale = await scrapeSeeders(http, meta.infoHash);
            const program = await seeder.start(torrentPath, `${work}/seed`, work);
            try {
              let magnet = `magnet:?xt=urn:btih:${meta.infoHashHex}&dn=${shape.name}`;
              if (path === "x.pe") magnet += `&x.pe=127.0.0.1:${program.port}`;
              else {
                // A seeder of an earlier step may still be listed: wait for this one too.
                await waitForSeeders(http, meta.infoHash, stale + 1);
                magnet += `&tr=${encodeURIComponent(udp)}`;
              }
              const out = `${work}/dl-${crypto.randomUUID()}`;
              await Deno.mkdir(out);
              const { code, text } = await runCli(
                [magnet, out, "--save-torrent", `${out}.torrent`, "-q"],
                90_000,
              );
              assert.equal(code, 0, text);
              for (const f of files) {
                assert.deepEqual(await Deno.readFile(`${out}/${f.path.join("/")}`), f.data);
              }
              const saved = await parseMetainfo(await Deno.readFile(`${out}.torrent`));
              assert.equal(saved.infoHashHex, meta.infoHashHex);
              matrix.push(`magnet from ${seeder.name} via ${path}: ok`);
            } finally {
              await program.stop();
            }
          });
        }
      }
    } finally {
      await tracker.stop();
      console.log(matrix.join("\n"));
      await Deno.remove(work, { recursive: true });
    }
  },
});

Deno.test({
  name: "libtorrent fetches a magnet link's metadata and data from our seeder (we serve ut_metadata)",
  ignore: !ready,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const work = await Deno.makeTempDir({ prefix: "serve-metadata-" });
    const shape = SHAPES.find((s) => s.name === "m64k")!;
    const { files, meta } = await prepare(shape, `${work}/seed`, work, "http://127.0.0.1:9/announce", false);
    const seeder = startDownload(meta, {
      out: `${work}/seed/${shape.name}`,
      seedOnly: true,
      seed: {},
      listen: "127.0.0.1",
      port: freePort(),
    });
    try {
      while (!seeder.progress().state.startsWith("active")) await new Promise((r) => setTimeout(r, 20));
      const magnet = `magnet:?xt=urn:btih:${meta.infoHashHex}&x.pe=127.0.0.1:${seeder.progress().port}`;
      const leecher = startLibtorrentLeecher(magnet, `${work}/lt`);
      const timer = setTimeout(() => leecher.program.stop(), 60_000);
      try {
        await leecher.done;
      } finally {
        clearTimeout(timer);
        await leecher.program.stop();
      }
      for (const f of files) {
        assert.deepEqual(await Deno.readFile(`${work}/lt/${shape.name}/${f.path.join("/")}`), f.data);
      }
      const theirs = await parseMetainfo(await Deno.readFile(`${work}/lt/lt.torrent`));
      assert.equal(theirs.infoHashHex, meta.infoHashHex);
    } finally {
      seeder.stop();
      await seeder.done;
      await Deno.remove(work, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "PEX from libtorrent: told only of libtorrent, our client learns another leecher from it and connects",
  ignore: !ready,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const work = await Deno.makeTempDir({ prefix: "pex-" });
    await Deno.chmod(work, 0o755);
    const shape = SHAPES.find((s) => s.name === "s256k.bin")!;
    const { torrentPath, meta } = await prepare(
      shape,
      `${work}/seed`,
      work,
      "http://127.0.0.1:9/a",
      false,
    );
    // Held to 300 KB/s, so our client is still downloading from it when it sends its peer list.
    const lt = await startLibtorrent(torrentPath, `${work}/seed`, 300_000);
    // A second client of ours dials libtorrent too and tells it its listen port in the extension handshake. It
    // must be a leecher: libtorrent drops connections between seeds, and PEX lists only connected peers.
    const other = startDownload(meta, {
      out: `${work}/other/${shape.name}`,
      listen: "127.0.0.1",
      port: freePort(),
      peers: [{ host: "127.0.0.1", port: lt.port! }],
    });
    const trace: string[] = [];
    let session: ReturnType<typeof startDownload> | undefined;
    try {
      while (!other.progress().state.startsWith("active")) await new Promise((r) => setTimeout(r, 20));
      const otherKey = `127.0.0.1:${other.progress().port}`;
      session = startDownload(meta, {
        out: `${work}/dl/${shape.name}`,
        port: freePort(),
        listen: "127.0.0.1",
        peers: [{ host: "127.0.0.1", port: lt.port! }],
        wireTrace: (key, dir, msg) => {
          if (key === `127.0.0.1:${lt.port}` && !["piece", "request", "have"].includes(msg.type)) {
            trace.push(`${dir} ${msg.type}${msg.type === "extended" ? ":" + msg.ext : ""}`);
          }
        },
      });
      const end = Date.now() + 75_000; // libtorrent sends PEX at most once a minute
      let learned;
      while (Date.now() < end) {
        learned = (session.actor.getSnapshot().context as { book: AddressBook }).book.entries.get(otherKey);
        // Connected to it either way: we dialled it, or it dialled us first (it heard of us through PEX too) and
        // we do not dial back a peer that dialled us.
        if (
          learned && session.peers().some((p) => p.listensAt === otherKey && p.state.startsWith("connected"))
        ) {
          break;
        }
        await new Promise((r) => setTimeout(r, 200));
      }
      assert(learned, `never heard of ${otherKey}; libtorrent said: ${trace.join(", ")}`);
      assert.equal(learned.source, "pex");
      assert(session.peers().some((p) => p.listensAt === otherKey && p.state.startsWith("connected")));
      assert(trace.includes("in extended:2"), "libtorrent's ut_pex message came with our id for it");
      // The fast extension with libtorrent, as the trace saw it: libtorrent has everything, we had nothing.
      assert(trace.includes("in have-all"), trace.join(", "));
      assert(trace.includes("out have-none"), trace.join(", "));
      assert(trace.includes("in extended:0") && trace.includes("out extended:0"), trace.join(", "));
      assert(trace.includes("in allowed-fast"), trace.join(", "));
      console.log(`trace with libtorrent: ${[...new Set(trace)].join(", ")}`);
    } finally {
      session?.stop();
      other.stop();
      await Promise.all([session?.done, other.done]);
      await lt.stop();
      await Deno.remove(work, { recursive: true });
    }
  },
});
