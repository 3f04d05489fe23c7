/** Measuring a run: wall and CPU seconds and peak RSS under GNU time, medians, and the checks after a run. */

import { outputWithin } from "../test/interop/swarm.ts";

/** What one timed run took. */
export interface Run {
  seconds: number;
  cpu: number;
  rssMiB: number;
  ok: boolean;
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0
    ? NaN
    : s.length % 2
    ? s[(s.length - 1) / 2]
    : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

/**
 * Runs `cmd` under GNU time; returns wall seconds, CPU seconds and peak RSS. The kernel first writes back every
 * dirty page (`sync`, not timed): libtorrent and aria2c end with their downloads still in the page cache (ours
 * flushes its files before it says done), and the next client's run paid for that writeback. By hand on (e), 4 GiB:
 * 2.2 GB were still dirty after libtorrent's run; ours right after took 7.56 and 7.57 s, after a `sync` 6.79 and
 * 7.13.
 */
export async function timed(
  cmd: string[],
  timeoutMs: number,
  onStart?: () => void,
): Promise<Run & { output: string }> {
  await new Deno.Command("sync", { stdin: "null", stdout: "null", stderr: "null" }).output();
  const stats = await Deno.makeTempFile();
  const child = new Deno.Command("/usr/bin/time", {
    args: ["-f", "%e %U %S %M", "-o", stats, ...cmd],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  onStart?.();
  const out = await outputWithin(child, timeoutMs);
  const [e, u, s, m] = (await Deno.readTextFile(stats)).trim().split("\n").at(-1)!.split(" ").map(Number);
  await Deno.remove(stats);
  const output = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  return { seconds: e, cpu: u + s, rssMiB: m / 1024, ok: out.success, output };
}

export async function sameBytes(a: string, b: string): Promise<boolean> {
  const folder = (await Deno.stat(b)).isDirectory;
  return (await new Deno.Command(folder ? "diff" : "cmp", { args: [folder ? "-rq" : "-s", a, b] }).output())
    .success;
}

/** Reads a live view's event stream and drops it, as a browser tab would read it. */
export async function watchUi(port: number, stop: AbortSignal): Promise<void> {
  for (let i = 0; i < 100 && !stop.aborted; i++) {
    try {
      const res = await fetch(`http://127.0.0.1:${port}/events`, { signal: stop });
      for await (const _ of res.body!) { /* drain */ }
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}
