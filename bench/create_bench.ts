/**
 * Scenario h of `deno task bench`: making a torrent of a 1 GiB file (256 KiB pieces) with our `create`, with
 * `mktorrent` and with `transmission-create`, alternating, several rounds. The file is written first and stays
 * in the page cache, so this measures reading from the cache and hashing, not the disk. Each tool's torrent must
 * hold the same piece hashes as ours, or its run counts as failed.
 */

import { parseMetainfo } from "../src/metainfo/metainfo.ts";
import { cliArgs } from "../test/helpers/cli.ts";
import { type Run, timed } from "./measure.ts";
import { writePayload } from "./payload.ts";

const GiB = 1024 ** 3, KiB = 1024;
const CLIENTS = ["ours", "mktorrent", "transmission-create"] as const;

function command(client: typeof CLIENTS[number], file: string, out: string): string[] {
  switch (client) {
    case "ours":
      return [
        Deno.execPath(),
        ...cliArgs(["create", file, "-o", out, "--piece-size", "256K", "--no-date", "-q"]),
      ];
    case "mktorrent":
      // -l 18: 2^18 = 256 KiB pieces; it hashes with as many threads as there are cores by default.
      return ["mktorrent", "-l", "18", "-a", "http://127.0.0.1:1/announce", "-o", out, file];
    case "transmission-create":
      return ["transmission-create", "-s", "256", "-o", out, file];
  }
}

/** Runs scenario h; returns the runs by tool, in the shape the download scenarios have. */
export async function createScenario(key: string, work: string, rounds: number) {
  const dir = `${work}/${key}`;
  const file = `${dir}/payload.bin`;
  console.error(`[${key}] create: writing 1 GiB…`);
  await writePayload(file, GiB);
  const runs: Record<string, Run[]> = Object.fromEntries(CLIENTS.map((c) => [c, []]));
  let reference: Uint8Array | undefined;
  for (let round = 1; round <= rounds; round++) {
    for (let k = 0; k < CLIENTS.length; k++) {
      const client = CLIENTS[(round - 1 + k) % CLIENTS.length];
      const out = `${dir}/${client}.torrent`;
      await Deno.remove(out).catch(() => {});
      const run = await timed(command(client, file, out), 600_000);
      const hashes = run.ok ? (await parseMetainfo(await Deno.readFile(out))).pieceHashes : undefined;
      reference ??= client === "ours" ? hashes : undefined;
      if (client !== "ours" && reference && hashes) run.ok = hashes.every((b, i) => b === reference![i]);
      if (!run.ok) console.error(`${client} failed: ${run.output.slice(-300)}`);
      runs[client].push(run);
      console.error(
        `[${key}] round ${round} ${client.padEnd(20)} ${run.ok ? "ok" : "FAILED"} ${
          run.seconds.toFixed(2)
        } s, ` +
          `cpu ${run.cpu.toFixed(2)} s, rss ${run.rssMiB.toFixed(0)} MiB`,
      );
    }
  }
  const scenario = { key, title: "create: hashing 1 GiB, 256 KiB pieces", size: GiB, pieceLength: 256 * KiB };
  return { scenario, runs };
}
