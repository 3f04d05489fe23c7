/**
 * Long seeding stays flat: our `seed` (the CLI, its own process) serves 50 complete downloads of 32 MiB one after
 * another, every byte right, and ends within 10% of the memory it had after the first (issue 17). V8 grows its
 * heap with the work and seldom gives it back on its own (before the CLI's heap keeper: 62-65 MiB after the first
 * download, 74-75 after the 50th; with it, 64-66 and 67-69 by hand), and its compiler's code is paged in as
 * it warms up. Everything stays under 100 MiB, and once the leechers are gone the seeder costs next to no CPU.
 */

import assert from "node:assert/strict";
import { cpuSeconds, downloadFrom, startCliSeeder } from "../helpers/cli_seeder.ts";
import { testTorrent } from "../helpers/make_torrent.ts";

const { meta, torrent, data } = await testTorrent({ size: 32 << 20, pieceLength: 256 << 10, seed: 53 });

Deno.test({
  name: "a seeder serving 50 downloads in a row ends within 10% of its first, under 100 MiB, and then idles",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const dir = await Deno.makeTempDir();
    const seed = await startCliSeeder(dir, torrent, data, meta.infoHash);
    try {
      const rss: number[] = [];
      for (let round = 1; round <= 50; round++) {
        const { result, bytes } = await downloadFrom(meta, seed.port);
        assert(result.ok, `download ${round}: ${result.error}`);
        assert.deepEqual(bytes, data, `download ${round}`);
        rss.push(await seed.rssMiB());
      }
      console.log(
        `seeder RSS after downloads 1, 10, 25, 50: ${[0, 9, 24, 49].map((i) => rss[i].toFixed(1))} MiB`,
      );
      assert.ok(rss[49] <= rss[0] * 1.1, `after the first ${rss[0]} MiB, after the 50th ${rss[49]} MiB`);
      const peak = await seed.peakMiB();
      assert.ok(peak < 100, `seeder peak ${peak} MiB`);
      // The last leecher is gone: the seeder waits for the next one, with nothing to do meanwhile.
      const before = await cpuSeconds(seed.pid);
      await new Promise((r) => setTimeout(r, 3000));
      const idle = await cpuSeconds(seed.pid) - before;
      console.log(`seeder CPU while idle: ${idle.toFixed(2)} s in 3 s`);
      assert.ok(idle <= 0.1, `${idle} CPU s in 3 s of idling`);
    } finally {
      await seed.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
