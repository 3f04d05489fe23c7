/**
 * How a torrent's files lie on disk before any piece is written: their paths under the output, what is already
 * there (sizes, whether any data is), and what must exist before the download starts (folders, BEP 47 links,
 * empty files). Data files are not created here: `FileStorage` creates each one, sparse at its full size, the
 * first time it is used, so a torrent of 10,000 small files costs one `lstat` per file and one `mkdir` per folder
 * to set up, not an open, a truncate, a stat and a close per file.
 *
 * @module
 */

import type { FileEntry, Metainfo } from "../metainfo/metainfo.ts";
import { platformSafe } from "./paths.ts";
import { inParallel } from "../common/parallel.ts";

/**
 * Joins path components with "/" (Deno accepts it on every platform). Only a path with a doubled "/" goes through
 * `replace`: its results took five times the memory of the joined string (2.6 MB for 10,000 paths, kept all run).
 */
function join(...parts: string[]): string {
  const path = parts.join("/");
  return path.includes("//") ? path.replace(/\/+/g, "/") : path;
}

/** The on-disk path of each file of `meta` under `out`. */
export function filePaths(meta: Pick<Metainfo, "files" | "multiFile">, out: string): string[] {
  return meta.files.map((f) => meta.multiFile ? join(out, ...f.path.map((c) => platformSafe(c))) : out);
}

/** Calls `fn` for each part of the span [offset, offset + length) that falls in a file. */
export function eachPart(
  files: FileEntry[],
  offset: number,
  length: number,
  fn: (file: number, fileOffset: number, spanOffset: number, partLength: number) => void,
): void {
  const end = offset + length;
  // The files lie end to end: the first one that ends past `offset` is found by bisection, not by a walk over
  // every file (a torrent may have tens of thousands).
  let lo = 0, hi = files.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (files[mid].offset + files[mid].length <= offset) lo = mid + 1;
    else hi = mid;
  }
  for (let i = lo; i < files.length && files[i].offset < end; i++) {
    const f = files[i];
    const from = Math.max(offset, f.offset);
    const to = Math.min(end, f.offset + f.length);
    if (from < to) fn(i, from - f.offset, from - offset, to - from);
  }
}

/** What `prepareFiles` found and made. */
export interface Layout {
  /** Each file's path. */
  paths: string[];
  /** Each file's size on disk now, -1 where there is no file yet (and for padding and links). */
  sizes: Float64Array;
  /** Files with no data blocks on disk (or no file): a check may skip them unread. */
  empty: boolean[];
  /** Some file already held data. */
  existed: boolean;
}

/** Files looked at, at once, while preparing. */
const PARALLEL = 32;

/**
 * Checks what is on disk under `out` for `meta` and makes what must exist before the download: the folders, the
 * BEP 47 links, the empty files. Refuses, before anything is created, a path that goes through a symbolic link
 * inside the output folder, a path that is not a file, and a file longer than the torrent says.
 */
export async function prepareFiles(meta: Metainfo, out: string): Promise<Layout> {
  const paths = filePaths(meta, out);
  const n = paths.length;
  const sizes = new Float64Array(n).fill(-1);
  const empty: boolean[] = new Array(n).fill(true);
  const data = [...paths.keys()].filter((i) => !meta.files[i].padding && !meta.files[i].omitted);
  const folderOf = (i: number) => paths[i].slice(0, paths[i].lastIndexOf("/"));
  const folders = new Set(data.map(folderOf));
  // Folders that are there: a file can only be in one of those (a first download looks at no file at all).
  const present = new Set<string>();
  if (meta.multiFile) {
    const links = new LinkGuard(out);
    for (const folder of folders) if (await links.check(folder)) present.add(folder);
  }
  let existed = false;
  const look = data.filter((i) => !meta.files[i].symlink && (!meta.multiFile || present.has(folderOf(i))));
  await inParallel(look, PARALLEL, async (i) => {
    const path = paths[i], length = meta.files[i].length;
    // A single file's path is the user's choice, and may be a link to the file.
    const stat = await (meta.multiFile ? Deno.lstat(path) : Deno.stat(path)).catch(() => null);
    if (!stat) return;
    if (stat.isSymlink && meta.multiFile) {
      throw new Error(`refusing to write through the symbolic link ${path}`);
    }
    if (!stat.isFile && !stat.isSymlink) throw new Error(`${path} exists and is not a file`);
    // Never cut a file short: it is more likely the wrong file than ours.
    if (stat.size > length) {
      throw new Error(`${path} holds ${stat.size} bytes, more than the torrent's ${length}`);
    }
    sizes[i] = stat.size;
    empty[i] = stat.size === 0 || stat.blocks === 0;
    if (stat.size > 0) existed = true;
  });
  for (const folder of folders) {
    if (folder && !present.has(folder)) await Deno.mkdir(folder, { recursive: true });
  }
  await inParallel(data, PARALLEL, async (i) => {
    const { symlink, length, executable } = meta.files[i];
    // Links hold no data; an empty file is made now, as no write will make it.
    if (symlink) return await makeLink(paths[i], meta.files[i].path, symlink);
    if (length === 0 && sizes[i] < 0) {
      await Deno.writeFile(paths[i], new Uint8Array(0));
      sizes[i] = 0;
    }
    // BEP 47 `x`: executable for whoever may read it; no such bit on Windows. (Files made later get it then.)
    if (executable && sizes[i] >= 0 && Deno.build.os !== "windows") await Deno.chmod(paths[i], 0o755);
  });
  // One missing file is made now, sparse at its full length: an output we cannot write to (a read-only disk, a
  // folder of someone else's) is said at the start, not at the first piece. The rest follow as they are written.
  const first = data.find((i) => sizes[i] < 0 && !meta.files[i].symlink);
  if (first !== undefined) {
    const { length, executable } = meta.files[first];
    using file = await Deno.open(paths[first], {
      write: true,
      create: true,
      mode: executable ? 0o755 : undefined,
    });
    await file.truncate(length);
    sizes[first] = length;
  }
  return { paths, sizes, empty, existed };
}

/**
 * Refuses paths through a symbolic link inside the output folder: one there could point anywhere on the disk.
 * (`out` itself is the user's choice and may be a link.) Each folder is looked at once, however many files it holds.
 */
class LinkGuard {
  readonly #root: string;
  readonly #seen = new Set<string>();
  #rootThere?: boolean;

  constructor(out: string) {
    this.#root = out.replace(/\/+$/, "");
  }

  /** Throws when `folder` (below the output) goes through a link; true when it exists. */
  async check(folder: string): Promise<boolean> {
    let at = this.#root;
    this.#rootThere ??= await Deno.lstat(at).then(() => true, () => false);
    if (!this.#rootThere) return false; // a first download: nothing there yet
    for (const part of folder.slice(this.#root.length + 1).split("/").filter((p) => p)) {
      at = `${at}/${part}`;
      if (this.#seen.has(at)) continue;
      const stat = await Deno.lstat(at).catch(() => null);
      if (!stat) return false; // nothing below it exists yet
      if (stat.isSymlink) throw new Error(`refusing to write through the symbolic link ${at}`);
      this.#seen.add(at);
    }
    return true;
  }
}

/**
 * Creates the BEP 47 link at `path` (torrent path `from`) to `target` (a path below the torrent's folder), as a
 * relative link so the folder can move; a link already there is replaced, anything else is left and refused.
 */
async function makeLink(path: string, from: string[], target: string[]): Promise<void> {
  const relative = [...Array(from.length - 1).fill(".."), ...target].join("/");
  const stat = await Deno.lstat(path).catch(() => null);
  if (stat && !stat.isSymlink) throw new Error(`${path} exists and is not a symbolic link`);
  if (stat && await Deno.readLink(path) === relative) return;
  if (stat) await Deno.remove(path);
  await Deno.mkdir(path.slice(0, path.lastIndexOf("/")), { recursive: true });
  try {
    await Deno.symlink(relative, path);
  } catch (e) {
    // Windows lets only some users make links: there, a link is left out rather than failing the download.
    if (Deno.build.os !== "windows") {
      throw new Error(`cannot create the link ${path}: ${(e as Error).message}`);
    }
  }
}
