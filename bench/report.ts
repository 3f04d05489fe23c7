/** A scenario's runs as medians per client, with ours as ratios to the others': the JSON and the printed table. */

import { median, type Run } from "./measure.ts";

const MiB = 1024 ** 2;

export function summarize(
  result: {
    scenario: { key: string; title: string; size: number; pieceLength: number };
    runs: Record<string, Run[]>;
  },
) {
  const { scenario: s, runs } = result;
  const rows = Object.entries(runs).map(([client, rs]) => {
    const ok = rs.filter((r) => r.ok);
    const seconds = median(ok.map((r) => r.seconds));
    return {
      client,
      ok: ok.length,
      rounds: rs.length,
      seconds,
      mibPerSecond: s.size / MiB / seconds,
      cpuSeconds: median(ok.map((r) => r.cpu)),
      rssMiB: median(ok.map((r) => r.rssMiB)),
      runs: rs,
    };
  });
  const ours = rows.find((r) => r.client === "ours");
  const ratios: Record<string, { time: number; cpu: number; rss: number }> = {};
  for (const r of rows) {
    if (!ours || r === ours) continue;
    ratios[`ours/${r.client}`] = {
      time: ours.seconds / r.seconds,
      cpu: ours.cpuSeconds / r.cpuSeconds,
      rss: ours.rssMiB / r.rssMiB,
    };
  }
  return { key: s.key, title: s.title, size: s.size, pieceLength: s.pieceLength, rows, ratios };
}

export function table(summary: ReturnType<typeof summarize>): string {
  const lines = [`(${summary.key}) ${summary.title}`];
  const width = Math.max(11, ...summary.rows.map((r) => r.client.length));
  lines.push(`  ${"client".padEnd(width)}   ok    seconds    MiB/s   CPU s   RSS MiB`);
  for (const r of summary.rows) {
    lines.push(
      `  ${r.client.padEnd(width)} ${`${r.ok}/${r.rounds}`.padStart(4)} ${
        r.seconds.toFixed(2).padStart(10)
      } ${r.mibPerSecond.toFixed(0).padStart(8)} ${r.cpuSeconds.toFixed(2).padStart(7)} ${
        r.rssMiB.toFixed(0).padStart(9)
      }`,
    );
  }
  for (const [k, v] of Object.entries(summary.ratios)) {
    lines.push(`  ${k}: time ×${v.time.toFixed(2)}, CPU ×${v.cpu.toFixed(2)}, RSS ×${v.rss.toFixed(2)}`);
  }
  return lines.join("\n");
}
