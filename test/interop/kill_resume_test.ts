/**
 * Kill test: the client is killed with SIGKILL at 20 random moments while it downloads from real seeders
 * (libtorrent and aria2c, each held to 2 MiB/s so the download lasts), and run again each time; once with 256 KiB
 * pieces, once with 32 KiB. The final bytes
 * must equal the payload, and no piece may be verified twice: every run appends each piece it verifies to one
 * log (kill_child.ts), and an index that appears twice there was fetched again after it was already on disk.
 */

import assert from "node:assert/strict";
import { parseMetainfo } from "../../src/metainfo/metainfo.ts";
import { payload } from "../helpers/make_torrent.ts";
import { HERE, installed, startAria2, startLibtorrent, startOpentracker, waitForSeeders } from "./swarm.ts";
import { freePort } from "../helpers/ports.ts";

const SIZE = 64 * 1024 * 1024 + 4321;
const KILLS = 20;
const RATE = 2 * 1024 * 1024;

const ready = ["opentracker", "mktorrent", "aria2c"].every(installed) &&
  new Deno.Command("/usr/bin/python3", { args: ["-c", "import libtorrent"] }).outputSync().success;

async function logged(log: string): Promise<number> {
  const text = await Deno.readTextFile(log).catch(() => "");
  return text.split("\n").filter((l) => l !== "").length;
}

function spawnClient(torrent: string, out: string, log: string): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${HERE}kill_child.ts`, torrent, out, log, String(freePort())],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
}

// 256 KiB pieces are written as they arrive; 32 KiB pieces are written whole, several in one write (the storage
// holds small writes until the verifier reports them): each way, a piece reported verified must be in its file.
for (const [log2, size] of [[18, "256 KiB"], [15, "32 KiB"]] as const) {
  Deno.test({
    name:
      `kill -9 at 20 random moments, ${size} pieces: the reruns finish with equal bytes and no piece verified twice`,
    ignore: !ready,
    sanitizeResources: false,
    sanitizeOps: false,
    async fn() {
      const work = await Deno.makeTempDir({ prefix: "kill-" });
      await Deno.chmod(work, 0o755);
      const data = payload(SIZE, 42);
      await Deno.mkdir(`${work}/seed`);
      await Deno.writeFile(`${work}/seed/k.bin`, data);
      const trackerPort = freePort();
      const announce = `http://127.0.0.1:${trackerPort}/announce`;
      const torrent = `${work}/k.torrent`;
      const mk = await new Deno.Command("mktorrent", {
        args: ["-p", "-a", announce, "-l", String(log2), "-o", torrent, `${work}/seed/k.bin`],
        stdout: "null",
      }).output();
      assert(mk.success);
      const meta = await parseMetainfo(await Deno.readFile(torrent));
      const tracker = await startOpentracker(`${work}/tracker`, trackerPort, [meta.infoHashHex]);
      const seeders = [
        await startLibtorrent(torrent, `${work}/seed`, RATE),
        await startAria2(torrent, `${work}/seed`, RATE),
      ];
      const out = `${work}/dl/k.bin`;
      const log = `${work}/verified.log`;
      const moments: number[] = [];
      const progress: number[] = []; // pieces logged after each killed run
      try {
        await waitForSeeders(announce, meta.infoHash, 2);
        let finishedEarly = 0;
        for (let i = 0; i < KILLS; i++) {
          const child = spawnClient(torrent, out, log);
          const ms = 600 + Math.floor(Math.random() * 1000);
          moments.push(ms);
          const timer = setTimeout(() => {
            try {
              Deno.kill(child.pid, "SIGKILL");
            } catch { /* it already exited */ }
          }, ms);
          const status = await child.status;
          clearTimeout(timer);
          await child.stderr.cancel();
          if (status.success) finishedEarly++;
          progress.push(await logged(log));
        }
        assert(finishedEarly < KILLS / 2, `the download outran the kills (${finishedEarly} runs finished)`);
        const killedMidDownload = progress.filter((n, i) => n > (progress[i - 1] ?? 0)).length;
        assert(
          killedMidDownload >= KILLS / 2,
          `only ${killedMidDownload} runs verified pieces before the kill`,
        );
        const final = spawnClient(torrent, out, log);
        const [status, stderr] = await Promise.all([final.status, new Response(final.stderr).text()]);
        assert(status.success, `the last run failed: ${stderr}`);

        assert.deepEqual(await Deno.readFile(out), data);
        const verified = (await Deno.readTextFile(log)).trim().split("\n").map(Number);
        const seen = new Map<number, number>();
        for (const i of verified) seen.set(i, (seen.get(i) ?? 0) + 1);
        const twice = [...seen].filter(([, n]) => n > 1).map(([i]) => i);
        assert.deepEqual(twice, [], "pieces verified (so fetched) in two runs");
        console.log(`kill moments (ms after start): ${moments.join(", ")}`);
        console.log(`pieces verified by each kill: ${progress.join(", ")}`);
        console.log(
          `${killedMidDownload} kills landed mid-download; ${verified.length} of ${meta.pieceCount} pieces logged ` +
            `as verified in all (a piece written just before a kill is found on disk, not logged), none twice`,
        );
      } finally {
        await Promise.all(seeders.map((s) => s.stop()));
        await tracker.stop();
        await Deno.remove(work, { recursive: true });
      }
    },
  });
}
