/**
 * Upload scenarios of `deno task bench`: libtorrent leechers (`lt_download.py`, dialling the seeder directly,
 * no tracker) fetch 1 GiB in 256 KiB pieces from one seeder: ours (`deno run -A mod.ts seed`, the plain command,
 * no V8 flags), libtorrent (`lt_seed.py`) or aria2c, in turn, several rounds. A round's time is from the leechers'
 * start to the last one's completion, once the seeder answers handshakes (ours hashes its data first); the
 * seeder's CPU seconds and peak RSS (VmHWM) are read from /proc just before it is stopped.
 */

import { cliArgs } from "../test/helpers/cli.ts";
import { freePort, waitForHandshake } from "../test/helpers/ports.ts";
import { HERE as INTEROP, outputWithin, Program, startAria2 } from "../test/interop/swarm.ts";
import { parseMetainfo } from "../src/metainfo/metainfo.ts";
import { type Run, sameBytes } from "./measure.ts";
import { makeBenchTorrent, writePayload } from "./payload.ts";

const GiB = 1024 ** 3, KiB = 1024;
const SEEDERS = ["ours", "libtorrent", "aria2c"] as const;
type Seeder = typeof SEEDERS[number];

/** CPU seconds and peak RSS (MiB) of a live process, from /proc. */
async function usage(pid: number): Promise<{ cpu: number; rssMiB: number }> {
  const status = await Deno.readTextFile(`/proc/${pid}/status`);
  const hwm = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0);
  const stat = (await Deno.readTextFile(`/proc/${pid}/stat`)).split(") ")[1].split(" ");
  return { cpu: (Number(stat[11]) + Number(stat[12])) / 100, rssMiB: hwm / 1024 };
}

async function startSeeder(who: Seeder, torrent: string, dir: string, name: string): Promise<Program> {
  if (who === "aria2c") return await startAria2(torrent, dir);
  const port = freePort();
  const p = who === "ours"
    ? new Program(
      "ours",
      Deno.execPath(),
      cliArgs(["seed", torrent, `${dir}/${name}`, "-q", "--port", `${port}`]),
    )
    : new Program("libtorrent", "/usr/bin/python3", [`${INTEROP}lt_seed.py`, torrent, dir, `${port}`]);
  p.port = port;
  return p;
}

/** Runs an upload scenario: `leechers` libtorrent leechers at once, from each seeder in turn. */
export async function uploadScenario(key: string, work: string, rounds: number, leechers: number) {
  const dir = `${work}/${key}`;
  const name = "payload.bin";
  console.error(`[${key}] upload to ${leechers} leecher(s): writing the payload…`);
  const block = await writePayload(`${dir}/seed/${name}`, GiB);
  const torrent = `${dir}/upload.torrent`;
  const bytes = await makeBenchTorrent({ name, size: GiB, pieceLength: 256 * KiB, block });
  await Deno.writeFile(torrent, bytes);
  const { infoHash } = await parseMetainfo(bytes);
  const runs: Record<string, Run[]> = Object.fromEntries(SEEDERS.map((s) => [s, []]));
  for (let round = 1; round <= rounds; round++) {
    for (let k = 0; k < SEEDERS.length; k++) {
      const who = SEEDERS[(round - 1 + k) % SEEDERS.length];
      const seeder = await startSeeder(who, torrent, `${dir}/seed`, name);
      const programs: Program[] = [seeder];
      let run: Run = { seconds: NaN, cpu: NaN, rssMiB: NaN, ok: false };
      try {
        await waitForHandshake(seeder.port!, infoHash);
        const outs = Array.from({ length: leechers }, (_, i) => `${dir}/dl-${i}`);
        for (const out of outs) await Deno.remove(out, { recursive: true }).catch(() => {});
        const started = performance.now();
        const children = outs.map((out) =>
          new Deno.Command("/usr/bin/python3", {
            args: [`${INTEROP}lt_download.py`, torrent, out, `${freePort()}`, `127.0.0.1:${seeder.port}`],
            stdin: "null",
            stdout: "piped",
            stderr: "piped",
          }).spawn()
        );
        const results = await Promise.all(children.map((c) => outputWithin(c, 600_000)));
        const seconds = (performance.now() - started) / 1000;
        const { cpu, rssMiB } = await usage(seeder.pid);
        let ok = results.every((r) => r.success);
        for (const out of outs) ok = ok && await sameBytes(`${out}/${name}`, `${dir}/seed/${name}`);
        if (!ok) console.error(`${who}: ${new TextDecoder().decode(results[0].stderr).slice(-300)}`);
        run = { seconds, cpu, rssMiB, ok };
        for (const out of outs) await Deno.remove(out, { recursive: true }).catch(() => {});
      } finally {
        for (const p of programs) await p.stop();
      }
      runs[who].push(run);
      console.error(
        `[${key}] round ${round} ${who.padEnd(10)} ${run.ok ? "ok" : "FAILED"} ${
          run.seconds.toFixed(2)
        } s, ` +
          `seeder cpu ${run.cpu.toFixed(2)} s, rss ${run.rssMiB.toFixed(0)} MiB`,
      );
    }
  }
  const title = `upload: 1 GiB, 256 KiB pieces, to ${leechers} libtorrent leecher${leechers > 1 ? "s" : ""}`;
  return { scenario: { key, title, size: GiB * leechers, pieceLength: 256 * KiB }, runs };
}
