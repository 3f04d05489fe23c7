/**
 * uTP with libtorrent (127.0.0.1 only): a libtorrent that speaks uTP only (TCP off both ways) seeds to us, and
 * leeches from our `seed`, each directly and through a UDP relay that loses 3% of the packets and reorders them.
 */

import assert from "node:assert/strict";
import { addressOnly, prepare, SHAPES } from "./shapes.ts";
import {
  finished,
  type Program,
  runCli,
  startLibtorrent,
  startLibtorrentLeecher,
  startOurSeed,
} from "./swarm.ts";
import { waitForUtp } from "../helpers/ports.ts";
import { udpRelay } from "../helpers/udp_relay.ts";

const ready =
  new Deno.Command("/usr/bin/python3", { args: ["-c", "import libtorrent"] }).outputSync().success;

Deno.test({
  name:
    "uTP: a uTP-only libtorrent seeds to us and leeches from our seed, directly and through a lossy relay",
  ignore: !ready,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    const { work, shape, seedDir, torrentPath, payload } = await addressOnly("utp-", "s256k.bin");
    const programs: Program[] = [];
    const relays: { close(): void }[] = [];
    const download = async (port: number) => {
      const out = `${work}/dl-${crypto.randomUUID()}/${shape.name}`;
      return { ...await runCli([torrentPath, out, "--peer", `127.0.0.1:${port}`, "-v"]), out };
    };
    try {
      const lt = await startLibtorrent(torrentPath, seedDir, 0, undefined, "utp");
      programs.push(lt);
      await t.step("from a uTP-only libtorrent seeder", async () => {
        const r = await download(lt.port!);
        assert.equal(r.code, 0, r.text);
        assert.deepEqual(await Deno.readFile(r.out), payload);
        assert.match(r.text, /→ connected\.\w+ \[utp /);
      });
      await t.step("from one through a relay that loses 3% and reorders", async () => {
        // libtorrent sends slowly through such a path (about 0.35 MiB/s here, to itself as to us): 1 MiB.
        const small = SHAPES.find((s) => s.name === "s16k.bin")!;
        const smallDir = `${work}/small`;
        const prepared = await prepare(small, smallDir, work, "http://127.0.0.1:9/announce");
        const lossy = await startLibtorrent(prepared.torrentPath, smallDir, 0, undefined, "utp");
        programs.push(lossy);
        const relay = await udpRelay(lossy.port!, { loss: 0.03, delayMs: 1, jitterMs: 2 }, 7);
        relays.push(relay);
        const out = `${work}/lossy/${small.name}`;
        const r = await runCli([prepared.torrentPath, out, "--peer", `127.0.0.1:${relay.port}`, "-v"]);
        assert.equal(r.code, 0, r.text);
        assert.deepEqual(await Deno.readFile(out), prepared.files[0].data);
        assert.match(r.text, /\[utp /);
        assert(relay.counts.lost > 0, "the relay lost packets");
      });
      const seed = startOurSeed(torrentPath, `${seedDir}/${shape.name}`);
      programs.push(seed);
      const port = seed.port!;
      await waitForUtp(port, 30_000);
      /** A uTP-only libtorrent leecher fetching our seed at `at`: it must finish with the payload. */
      const ltLeech = async (at: number) => {
        const out = `${work}/lt-${crypto.randomUUID()}`;
        const leecher = startLibtorrentLeecher(torrentPath, out, `127.0.0.1:${at}`, { LT_TRANSPORT: "utp" });
        programs.push(leecher.program);
        await finished(leecher);
        assert.deepEqual(await Deno.readFile(`${out}/${shape.name}`), payload);
      };
      await t.step("a uTP-only libtorrent leecher downloads from our seed", () => ltLeech(port));
      await t.step("and through a relay that loses 3% and reorders", async () => {
        const relay = await udpRelay(port, { loss: 0.03, delayMs: 1, jitterMs: 2 }, 8);
        relays.push(relay);
        await ltLeech(relay.port);
        assert(relay.counts.lost > 0, "the relay lost packets");
      });
    } finally {
      for (const r of relays) r.close();
      for (const p of programs) await p.stop();
      await Deno.remove(work, { recursive: true });
    }
  },
});
