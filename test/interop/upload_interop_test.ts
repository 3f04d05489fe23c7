/**
 * Upload interop: real clients download whole torrents from our seeder alone (`mod.ts seed …`), through
 * opentracker. Each downloader starts first and is listed by the tracker as a leecher; our seeder then learns it
 * from its first announce and dials it (transmission ignores loopback peers from trackers, so dialling is the only
 * way it meets us). Bytes must be equal.
 */

import assert from "node:assert/strict";
import { CREATED, preparedSwarm, SHAPES } from "./shapes.ts";
import {
  installed,
  type Leecher,
  Program,
  scrape,
  startAria2Leecher,
  startLibtorrentLeecher,
  startTransmissionLeecher,
  waitForLeechers,
} from "./swarm.ts";
import { freePort } from "../helpers/ports.ts";
import { cliArgs } from "../helpers/cli.ts";

const LEECHERS: {
  name: string;
  program: string;
  start: (t: string, d: string, w: string) => Promise<Leecher>;
}[] = [
  { name: "aria2c", program: "aria2c", start: (t, d) => Promise.resolve(startAria2Leecher(t, d)) },
  {
    name: "libtorrent",
    program: "/usr/bin/python3",
    start: (t, d) => Promise.resolve(startLibtorrentLeecher(t, d)),
  },
  {
    name: "transmission",
    program: "transmission-cli",
    start: (t, d, w) => startTransmissionLeecher(t, d, w),
  },
];

const ready = installed("opentracker") && installed("mktorrent") &&
  LEECHERS.every((l) => installed(l.program)) &&
  new Deno.Command("/usr/bin/python3", { args: ["-c", "import libtorrent"] }).outputSync().success;

function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout>;
  const timeout = new Promise<never>((_, reject) =>
    timer = setTimeout(() => reject(new Error(`${what} after ${ms} ms`)), ms)
  );
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

Deno.test({
  name: "aria2c, libtorrent and transmission download whole torrents from our seeder alone",
  ignore: !ready,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    // A torrent of our own `create` too (with an empty file): the others must read what we make.
    const shapes = [...SHAPES.filter((s) => s.name === "s256k.bin" || s.name === "m64k"), CREATED];
    const { work, seedDir, announce, prepared, tracker } = await preparedSwarm("upload-", shapes);
    const matrix: string[] = [];
    try {
      for (const { shape, files, torrentPath, meta } of prepared) {
        for (const l of LEECHERS) {
          const label = `${l.name} from our seeder: ${shape.name}`;
          await t.step(label, async () => {
            const out = `${work}/dl-${crypto.randomUUID()}`;
            await Deno.mkdir(out);
            const before = (await scrape(announce, meta.infoHash)).incomplete;
            const leecher = await l.start(torrentPath, out, work);
            let seeder: Program | undefined;
            try {
              await waitForLeechers(announce, meta.infoHash, before + 1);
              const path = `${seedDir}/${shape.name}`;
              seeder = new Program(
                "ours",
                Deno.execPath(),
                cliArgs(["seed", torrentPath, path, "--port", String(freePort()), "-q"]),
              );
              await within(leecher.done, 120_000, `${l.name} did not finish`);
              for (const f of files) {
                // transmission-cli 3.00 creates no zero-length files when it downloads (seen here).
                if (f.data.length === 0 && l.name === "transmission") continue;
                const got = shape.multiFile
                  ? `${out}/${shape.name}/${f.path.join("/")}`
                  : `${out}/${shape.name}`;
                assert.deepEqual(await Deno.readFile(got), f.data, `${got} differs`);
              }
              matrix.push(`${label}: ok`);
            } finally {
              await leecher.program.stop();
              if (seeder) {
                Deno.kill(seeder.pid, "SIGINT"); // Ctrl-C: a complete seeder stops with exit 0
                const status = await seeder.child.status;
                await seeder.output;
                assert.equal(status.code, 0, `our seeder exited ${status.code}`);
              }
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
