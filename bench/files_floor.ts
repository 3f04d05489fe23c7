/**
 * What the file system alone costs for a torrent's files, with no network: creates the folders and files in
 * torrent order (deleting `<out>` first, as the bench does), writes each in 64 KiB writes, closes it, then flushes
 * every file 32 at a time; or, with `one`, writes the same number of bytes into one file and flushes it.
 *
 *   deno run -A bench/files_floor.ts <file.torrent> <out> [files|one] [--no-flush]
 *
 * Prints the seconds spent writing and in all. Only for a scratch folder: `<out>` is removed.
 */

import { parseMetainfo } from "../mod.ts";
import { inParallel } from "../src/common/parallel.ts";

const [torrent, out, mode = "files", flushArg] = Deno.args;
if (!torrent || !out) {
  console.error("usage: deno run -A bench/files_floor.ts <file.torrent> <out> [files|one] [--no-flush]");
  Deno.exit(2);
}
const flush = flushArg !== "--no-flush";
const meta = await parseMetainfo(await Deno.readFile(torrent));
await Deno.remove(out, { recursive: true }).catch(() => {});
await Deno.mkdir(out, { recursive: true });
const chunk = new Uint8Array(65536).fill(7);

async function writeBytes(file: Deno.FsFile, length: number): Promise<void> {
  for (let left = length; left > 0; left -= chunk.length) {
    await file.write(chunk.subarray(0, Math.min(left, chunk.length)));
  }
}

const started = performance.now();
const paths: string[] = [];
if (mode === "one") {
  const path = `${out}/one.bin`;
  using file = await Deno.open(path, { create: true, write: true });
  await writeBytes(file, meta.totalLength);
  paths.push(path);
} else {
  const folders = new Set<string>();
  for (const entry of meta.files) {
    const folder = [out, ...entry.path.slice(0, -1)].join("/");
    if (!folders.has(folder)) {
      await Deno.mkdir(folder, { recursive: true });
      folders.add(folder);
    }
    const path = [out, ...entry.path].join("/");
    using file = await Deno.open(path, { create: true, write: true });
    await writeBytes(file, entry.length);
    paths.push(path);
  }
}
const written = performance.now();
if (flush) {
  await inParallel(paths, 32, async (path) => {
    using file = await Deno.open(path, { write: true });
    await file.syncData();
  });
}
const seconds = (ms: number) => (ms / 1000).toFixed(2);
console.log(
  `${mode}: ${meta.files.length} files, ${(meta.totalLength / 2 ** 20).toFixed(0)} MiB: written in ` +
    `${seconds(written - started)} s, ${seconds(performance.now() - started)} s in all${
      flush ? " (flushed)" : ""
    }`,
);
