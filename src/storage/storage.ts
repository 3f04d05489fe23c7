/**
 * Where verified pieces go. `Storage` is the small interface the actors use; `FileStorage` lays a torrent's files
 * out under the output path (the file itself for a single-file torrent, a folder for a multi-file one), creates
 * them sparse at their full size and writes each piece at its offset, split across file boundaries.
 *
 * @module
 */

import type { FileEntry, Metainfo } from "../metainfo/metainfo.ts";
import { platformSafe } from "./paths.ts";

/** Random access to a torrent's data in piece space. */
export interface Storage {
  /** Writes `data` at `offset` of the torrent's concatenated data; `data` is reused once this resolves. */
  write(offset: number, data: Uint8Array): Promise<void>;
  /**
   * Writes at once (throws on failure); `data` may be reused as soon as it returns. With it, pieces larger than
   * the download's `streamAbove` go to the storage as their blocks arrive instead of being assembled in memory.
   */
  writeSync?(offset: number, data: Uint8Array): void;
  /** Reads `length` bytes at `offset`. */
  read(offset: number, length: number): Promise<Uint8Array>;
  /** Reads `into.length` bytes at `offset` into `into` (an upload's frame buffer), when the storage can. */
  readInto?(offset: number, into: Uint8Array): void;
  /** Flushes written data to the disk. */
  sync(): Promise<void>;
  /** True when the span is known to hold no data at all (sparse files never written): lets a check skip it. */
  unwritten?(offset: number, length: number): boolean;
  /** Releases open files; the storage is not used after. */
  close(): void;
}

/** Joins path components with "/" (Deno accepts it on every platform). */
function join(...parts: string[]): string {
  return parts.join("/").replace(/\/+/g, "/");
}

/** The on-disk path of each file of `meta` under `out`. */
export function filePaths(meta: Pick<Metainfo, "files" | "multiFile">, out: string): string[] {
  return meta.files.map((f) => meta.multiFile ? join(out, ...f.path.map((c) => platformSafe(c))) : out);
}

/**
 * Refuses to write through a symbolic link inside the output folder: one there could point anywhere on the disk.
 * (`out` itself is the user's choice and may be a link.)
 */
async function refuseLinks(out: string, path: string): Promise<void> {
  const below = path.slice(out.replace(/\/+$/, "").length + 1).split("/");
  let at = out.replace(/\/+$/, "");
  for (const part of below) {
    at = `${at}/${part}`;
    const stat = await Deno.lstat(at).catch(() => null);
    if (!stat) return;
    if (stat.isSymlink) throw new Error(`refusing to write through the symbolic link ${at}`);
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

/** Calls `fn` for each part of the span [offset, offset + length) that falls in a file. */
function eachPart(
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

/** Written bytes after which the files are flushed in the background (see `FileStorage.write`). */
const FLUSH_EVERY = 64 * 1024 * 1024;

/** Stores a torrent in real files; every file is opened on first use and kept open (at most `maxOpen` at once). */
export class FileStorage implements Storage {
  #handles = new Map<number, Deno.FsFile>();
  /**
   * Where each open file's position is (-1: unknown): a seek is skipped when it is already there. An array, not
   * a map: entries change on every read and write, and a map's deletions made it rebuild its table again and again.
   */
  readonly #pos: Float64Array;
  #dirty = new Set<number>();
  #unflushed = 0;
  /** A background flush in progress. */
  #flushing?: Promise<void>;

  private constructor(
    readonly files: FileEntry[],
    readonly paths: string[],
    readonly maxOpen: number,
    /** Files that had no disk blocks allocated when opened. */
    readonly empty: boolean[],
  ) {
    this.#pos = new Float64Array(files.length).fill(-1);
  }

  /**
   * Creates (or reopens) the files of `meta` under `out`, sized to their lengths, sparse. Returns the storage and
   * whether any file already held data.
   */
  static async open(
    meta: Metainfo,
    out: string,
    maxOpen = 128,
  ): Promise<{ storage: FileStorage; existed: boolean }> {
    const paths = filePaths(meta, out);
    const empty: boolean[] = [];
    let existed = false;
    // Every path is checked before any file is created, so a refused torrent leaves nothing behind.
    if (meta.multiFile) {
      for (const [i, path] of paths.entries()) {
        await refuseLinks(out, meta.files[i].symlink ? path.slice(0, path.lastIndexOf("/")) : path);
      }
    }
    for (let i = 0; i < paths.length; i++) {
      const path = paths[i];
      const { padding, omitted, symlink } = meta.files[i];
      if (padding || omitted || symlink) {
        // Padding is never on disk (its zeros are the torrent's, not ours to write); links hold no data.
        if (symlink) await makeLink(path, meta.files[i].path, symlink);
        empty.push(true);
        continue;
      }
      const slash = path.lastIndexOf("/");
      if (slash > 0) await Deno.mkdir(path.slice(0, slash), { recursive: true });
      const stat = await Deno.stat(path).catch(() => null);
      if (stat && !stat.isFile) throw new Error(`${path} exists and is not a file`);
      if (stat && stat.size > meta.files[i].length) {
        // Never cut a file short: it is more likely the wrong file than ours.
        throw new Error(`${path} holds ${stat.size} bytes, more than the torrent's ${meta.files[i].length}`);
      }
      if (stat && stat.size > 0) existed = true;
      const file = await Deno.open(path, { read: true, write: true, create: true });
      // BEP 47 `x`: executable for whoever may read it (the umask still applies); no such bit on Windows.
      if (meta.files[i].executable && Deno.build.os !== "windows") await Deno.chmod(path, 0o755);
      try {
        if (!stat || stat.size !== meta.files[i].length) await file.truncate(meta.files[i].length);
        empty.push((await file.stat()).blocks === 0);
      } finally {
        file.close();
      }
    }
    return { storage: new FileStorage(meta.files, paths, maxOpen, empty), existed };
  }

  #handle(i: number): Deno.FsFile {
    let h = this.#handles.get(i);
    if (h) return h;
    if (this.#handles.size >= this.maxOpen) {
      const [oldest, file] = this.#handles.entries().next().value!;
      if (this.#dirty.delete(oldest)) file.syncDataSync();
      file.close();
      this.#handles.delete(oldest);
      this.#pos[oldest] = -1;
    }
    h = Deno.openSync(this.paths[i], { read: true, write: true });
    this.#handles.set(i, h);
    return h;
  }

  unwritten(offset: number, length: number): boolean {
    let all = true;
    eachPart(this.files, offset, length, (i) => all &&= this.empty[i]);
    return all;
  }

  write(offset: number, data: Uint8Array): Promise<void> {
    this.writeSync(offset, data);
    return Promise.resolve();
  }

  writeSync(offset: number, data: Uint8Array): void {
    eachPart(this.files, offset, data.length, (i, at, from, length) => {
      if (this.files[i].padding) return;
      this.empty[i] = false;
      const h = this.#handle(i);
      this.#seek(i, h, at);
      this.#pos[i] = -1; // unknown until the write is done
      let done = 0;
      while (done < length) done += h.writeSync(data.subarray(from + done, from + length));
      this.#pos[i] = at + length;
      this.#dirty.add(i);
    });
    // Every 64 MiB the written data goes to the disk in the background (Deno runs the flush off the main thread),
    // so the flush that must end a download finds little left: measured, 1 GiB left for the end took 0.7 s.
    this.#unflushed += data.length;
    if (this.#unflushed >= FLUSH_EVERY && !this.#flushing) this.#flush();
  }

  #flush(): void {
    this.#unflushed = 0;
    const files = [...this.#dirty];
    this.#dirty.clear();
    // All started at once: each holds its file from the start, even if the file is closed to make room meanwhile.
    // One that fails leaves its file dirty: the closing flush tries again and reports the error.
    this.#flushing = Promise.all(
      files.map((i) => this.#handles.get(i)?.syncData().catch(() => this.#dirty.add(i))),
    )
      .then(() => {}).finally(() => this.#flushing = undefined);
  }

  read(offset: number, length: number): Promise<Uint8Array> {
    const out = new Uint8Array(length);
    this.readInto(offset, out);
    return Promise.resolve(out);
  }

  /** Reads into `into`; padding and bytes past a file's end read as zeros. */
  readInto(offset: number, into: Uint8Array): void {
    eachPart(this.files, offset, into.length, (i, at, from, partLength) => {
      // No new views when the block lies in one file and one read fills it (nearly always).
      const part = partLength === into.length ? into : into.subarray(from, from + partLength);
      if (this.files[i].padding) return void part.fill(0);
      const h = this.#handle(i);
      this.#seek(i, h, at);
      this.#pos[i] = -1; // unknown until the read is done
      let done = 0;
      while (done < partLength) {
        const n = h.readSync(done === 0 ? part : part.subarray(done));
        if (n === null) return void part.fill(0, done); // past the end
        done += n;
      }
      this.#pos[i] = at + partLength;
    });
  }

  /** Seeks only when the file is not already there: a peer reading or writing in order costs one call a block. */
  #seek(i: number, h: Deno.FsFile, at: number): void {
    if (this.#pos[i] === at) return;
    h.seekSync(at, Deno.SeekMode.Start);
    this.#pos[i] = at;
  }

  async sync(): Promise<void> {
    await this.#flushing;
    for (const i of this.#dirty) await this.#handles.get(i)?.syncData();
    this.#dirty.clear();
  }

  /** Closes every open file. */
  close(): void {
    for (const h of this.#handles.values()) h.close();
    this.#handles.clear();
    this.#pos.fill(-1);
  }
}

/** Keeps a torrent's data in memory: for tests and for callers who want the bytes, not files. */
export class MemoryStorage implements Storage {
  /** The whole torrent's bytes, in torrent order. */
  readonly data: Uint8Array;
  /** Zeroed storage for a torrent of `length` bytes. */
  constructor(length: number) {
    this.data = new Uint8Array(length);
  }
  write(offset: number, data: Uint8Array): Promise<void> {
    this.writeSync(offset, data);
    return Promise.resolve();
  }
  writeSync(offset: number, data: Uint8Array): void {
    this.data.set(data, offset);
  }
  read(offset: number, length: number): Promise<Uint8Array> {
    return Promise.resolve(this.data.slice(offset, offset + length));
  }

  readInto(offset: number, into: Uint8Array): void {
    into.set(this.data.subarray(offset, offset + into.length));
  }
  sync(): Promise<void> {
    return Promise.resolve();
  }
  /** Nothing to release. */
  close(): void {}
}
