/**
 * Our CLI as a child process, the way a user runs it (`deno run -A mod.ts …`): the one place every test starts it,
 * so options every test run needs are added here once.
 */

const MOD = new URL("../../mod.ts", import.meta.url).pathname;

/** `deno run -A mod.ts ...args` with piped output (or `"null"`), not yet spawned. */
export function cliCommand(
  args: string[],
  opts: { stdout?: "piped" | "null"; stderr?: "piped" | "null" } = {},
) {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MOD, ...args],
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
