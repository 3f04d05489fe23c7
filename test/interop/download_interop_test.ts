/**
 * Interop: real clients from Debian packages seed generated payloads through opentracker, and our CLI downloads
 * them as a child process. Shapes: single-file and multi-file, piece sizes from 16 KiB to 4 MiB, totals that are
 * not a multiple of the piece size. Each seeder is tried alone, then all of them together.
 */

import assert from "node:assert/strict";
import { preparedSwarm, SHAPES } from "./shapes.ts";
import { installed, type Program, runCli, scrapeSeeders, SEEDERS, waitForSeeders } from "./swarm.ts";

const ready = installed("opentracker") && installed("mktorrent") &&
  SEEDERS.every((s) => installed(s.program)) &&
  new Deno.Command("/usr/bin/python3", { args: ["-c", "import libtorrent"] }).outputSync().success;

Deno.test({
  name: "our client downloads every shape from libtorrent, aria2c and rtorrent, alone and together",
  ignore: !ready,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    const { work, seedDir, announce, prepared, tracker } = await preparedSwarm("interop-", SHAPES);
    const matrix: string[] = [];
    try {
      for (const { shape, files, torrentPath, meta } of prepared) {
        const combos = [...SEEDERS.map((s) => [s]), SEEDERS];
        for (const combo of combos) {
          const label = `${shape.name} from ${combo.map((s) => s.name).join("+")}`;
          await t.step(label, async () => {
            const seeders: Program[] = [];
            try {
              // A seeder of an earlier step that left without announcing "stopped" may still be listed.
              const stale = await scrapeSeeders(announce, meta.infoHash);
              for (const s of combo) seeders.push(await s.start(torrentPath, seedDir, work));
              await waitForSeeders(announce, meta.infoHash, stale + combo.length);
              const out = `${work}/dl-${crypto.randomUUID()}/${shape.name}`;
              const { code, text } = await runCli([torrentPath, out, "--verbose"]);
              assert.equal(code, 0, `client exited ${code}: ${text}`);
              for (const f of files) {
                const path = shape.multiFile ? `${out}/${f.path.join("/")}` : out;
                assert.deepEqual(await Deno.readFile(path), f.data, `${path} differs`);
              }
              matrix.push(`${label}: ok`);
            } finally {
              await Promise.all(seeders.map((s) => s.stop()));
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
