/**
 * Our CLI as a child process, the way a user runs it (`deno run -A mod.ts …`): the one place every test starts it,
 * so options every test run needs are added here once. The DHT is on by default in the CLI and would join through
 * the public routers: every run here gets `--no-dht` unless it names its own `--dht-bootstrap` nodes, and runs
 * with `ACTORRENT_NO_DEFAULT_ROUTERS` set, so a run that would still contact a default router stops instead.
 */

import { CACHE_DIR, NO_DEFAULT_ROUTERS } from "../../cli/dht_options.ts";

const MOD = new URL("../../mod.ts", import.meta.url).pathname;

/**
 * This test module's cache folder: a run with the DHT on saves its table there, not in the user's. Removed when
 * the module is done; the CLI makes it again if a run outlives it.
 */
export const testCacheDir: string = Deno.makeTempDirSync({ prefix: "actorrent-cache-" });
globalThis.addEventListener("unload", () => Deno.removeSync(testCacheDir, { recursive: true }));

// Every child process of a test inherits these, whoever starts it: the guard, and a cache folder of a test's
// (modules running at once share the environment: `cliCommand` names its module's own folder).
Deno.env.set(NO_DEFAULT_ROUTERS, "1");
Deno.env.set(CACHE_DIR, testCacheDir);

/**
 * The arguments of `deno run -A mod.ts ...args`, with `--no-dht` unless `args` choose the DHT's nodes (or run
 * `create`, which touches no network and takes no such flag).
 */
export function cliArgs(args: string[], denoFlags: string[] = []): string[] {
  const dhtChosen = args[0] === "create" || args.includes("--no-dht") || args.includes("--dht-bootstrap");
  return ["run", "-A", ...denoFlags, MOD, ...args, ...(dhtChosen ? [] : ["--no-dht"])];
}

/** `deno run -A mod.ts ...args` with piped output (or `"null"`), not yet spawned. */
export function cliCommand(
  args: string[],
  opts: { stdout?: "piped" | "null"; stderr?: "piped" | "null" } = {},
) {
  return new Deno.Command(Deno.execPath(), {
    args: cliArgs(args),
    env: { [NO_DEFAULT_ROUTERS]: "1", [CACHE_DIR]: testCacheDir },
    stdin: "null",
    stdout: opts.stdout ?? "piped",
    stderr: opts.stderr ?? "piped",
  });
}

/** Runs the CLI to the end: its exit code and its output, decoded. */
export async function runCli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await cliCommand(args).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}
