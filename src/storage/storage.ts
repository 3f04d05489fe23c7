/**
 * Where verified pieces go. `Storage` is the small interface the actors use; `FileStorage` lays a torrent's files
 * out under the output path (the file itself for a single-file torrent, a folder for a multi-file one), creates
 * them sparse at their full size and writes each piece at its offset, split across file boundaries.
 *
 * @module
 */

import type { FileEntry, Metainfo } from "../metainfo/metainfo.ts";
import { eachPart, prepareFiles } from "./layout.ts";
import { inParallel } from "../common/parallel.ts";

/** Random access to a torrent's data in piece space. */
export interface Storage {
  /** Writes `data` at `offset` of the torrent's concatenated data; `data` is reused once this resolves. */
  write(offset: number, data: Uint8Array): Promise<void>;
  /**
   * Writes (throws on failure); `data` may be reused as soon as it returns. With it, pieces larger than the
   * download's `streamAbove` go to the storage as their blocks arrive instead of being assembled in memory. A
   * storage may hold a small write back to write it with those that continue it: it is written by `writeHeld`
   * and before any read, `sync` or `close`, and its failure is thrown by the call that writes it.
   */
  writeSync?(offset: number, data: Uint8Array): void;
  /**
   * Writes what `writeSync` held back, before pieces are reported verified (a verified piece is in its file, so
   * `kill -9` loses none). Throws when that fails, and from then on: the pieces held are not on the disk.
   */
  writeHeld?(): void;
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

/** Written bytes after which the files are flushed in the background (see `FileStorage.write`). */
const FLUSH_EVERY = 64 * 1024 * 1024;

/** Closed files whose flush may run at once (each holds its handle until done); past it, one is closed unflushed. */
const FLUSHING_CLOSED = 32;

/**
 * Writes smaller than this (whole pieces of 16 or 32 KiB) that continue one another are gathered into one write
 * of up to `GATHER` bytes: 1 GiB in 16 KiB pieces was 65,536 `write`s, and the calls cost more than the copy.
 */
const GATHER_BELOW = 64 * 1024;
const GATHER = 256 * 1024;

/**
 * Stores a torrent in real files. A file is opened on first use (created sparse at its full size if it is not
 * there yet) and kept open, at most `maxOpen` at once: the one used longest ago is closed to make room, flushed
 * first in the background if it was written. Written files are flushed to the disk every 64 MiB in the background,
 * open or closed since, and by `sync`.
 */
export class FileStorage implements Storage {
  /** Each file's handle while it is open. */
  readonly #handles: (Deno.FsFile | undefined)[];
  /** The files open now (at most `maxOpen`), scanned for the least recently used: a map's iterator made an
   * object per entry at every file opened past the limit. */
  readonly #open: number[] = [];
  /** When each file was last used (a counter): the least recently used open file is closed first. */
  readonly #used: Float64Array;
  #clock = 0;
  /**
   * Where each open file's position is (-1: unknown): a seek is skipped when it is already there. An array, not
   * a map: entries change on every read and write, and a map's deletions made it rebuild its table again and again.
   */
  readonly #pos: Float64Array;
  /** Files written since they were last flushed, open or not. */
  #dirty = new Set<number>();
  #unflushed = 0;
  /** A background flush in progress. */
  #flushing?: Promise<void>;
  /** Flushes of files closed to make room, each closing its handle when done. */
  readonly #closing = new Set<Promise<void>>();
  /** Small writes gathered (see `GATHER_BELOW`): `#gathered` bytes for torrent offset `#gatherAt` on. */
  #gather?: Uint8Array;
  #gatherAt = 0;
  #gathered = 0;
  /** Why gathered bytes never reached their files, if they did not (see `#writeGathered`). */
  #lost?: unknown;

  private constructor(
    readonly files: FileEntry[],
    readonly paths: string[],
    readonly maxOpen: number,
    readonly gatherBelow: number,
    /** Files that had no disk blocks allocated when opened. */
    readonly empty: boolean[],
    /** Each file's size on disk, -1 while there is no file: set to its full length when it is first opened. */
    readonly sizes: Float64Array,
  ) {
    this.#handles = new Array(files.length).fill(undefined);
    this.#pos = new Float64Array(files.length).fill(-1);
    this.#used = new Float64Array(files.length);
  }

  /**
   * The storage of `meta`'s files under `out`, with what is already there checked (see `prepareFiles`). Returns
   * the storage and whether any file already held data.
   */
  static async open(
    meta: Metainfo,
    out: string,
    maxOpen = 128,
    /** Writes smaller than this that continue one another are gathered (see `Storage.writeSync`); 0: none. */
    gatherBelow: number = GATHER_BELOW,
  ): Promise<{ storage: FileStorage; existed: boolean }> {
    const { paths, sizes, empty, existed } = await prepareFiles(meta, out);
    return { storage: new FileStorage(meta.files, paths, maxOpen, gatherBelow, empty, sizes), existed };
  }

  /** File `i`'s handle, opened (and created) if need be; `fills` when a write about to come reaches its end. */
  #handle(i: number, fills = false): Deno.FsFile {
    this.#used[i] = ++this.#clock;
    const open = this.#handles[i];
    if (open) return open;
    if (this.#open.length >= this.maxOpen) {
      let at = 0;
      for (let k = 1; k < this.#open.length; k++) {
        if (this.#used[this.#open[k]] < this.#used[this.#open[at]]) at = k;
      }
      const oldest = this.#open[at];
      this.#open[at] = this.#open[this.#open.length - 1];
      this.#open.pop();
      this.#closeFlushed(oldest);
    }
    const { length, executable } = this.files[i];
    const h = Deno.openSync(this.paths[i], {
      read: true,
      write: true,
      create: true,
      mode: executable ? 0o755 : undefined,
    });
    if (this.sizes[i] !== length) {
      // A new file, or one cut short: sparse at its full length, unless the write about to come takes it there (a
      // small file's one write, where a truncate more per file was a tenth of the calls for 10,000 files).
      if (!fills) h.truncateSync(length);
      this.sizes[i] = length;
    }
    this.#handles[i] = h;
    this.#open.push(i);
    return h;
  }

  /**
   * Closes file `i`, flushing it first in the background if it was written: a torrent of many small files writes
   * each one and moves on, and flushing it later meant opening it again (an open and a close more per file). Past
   * `FLUSHING_CLOSED` such flushes at once it is closed as it is and stays dirty for the next flush. One that fails
   * leaves the file dirty: the closing flush tries again and reports the error.
   */
  #closeFlushed(i: number): void {
    const h = this.#handles[i]!;
    this.#handles[i] = undefined;
    this.#pos[i] = -1;
    if (!this.#dirty.has(i) || this.#closing.size >= FLUSHING_CLOSED) return h.close();
    this.#dirty.delete(i);
    const done: Promise<void> = h.syncData().catch(() => void this.#dirty.add(i)).finally(() => {
      h.close();
      this.#closing.delete(done);
    });
    this.#closing.add(done);
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
    if (data.length >= this.gatherBelow) {
      this.#writeGathered();
      return this.#writeNow(offset, data);
    }
    const held = this.#gathered;
    if (held > 0 && offset === this.#gatherAt + held && held + data.length <= GATHER) {
      this.#gather!.set(data, held);
      this.#gathered = held + data.length;
      if (this.#gathered === GATHER) this.#writeGathered();
      return;
    }
    this.#writeGathered(); // before this one: it may overlap what is held
    this.#gather ??= new Uint8Array(GATHER);
    this.#gather.set(data);
    this.#gatherAt = offset;
    this.#gathered = data.length;
  }

  writeHeld(): void {
    this.#writeGathered();
    if (this.#lost) throw this.#lost;
  }

  /**
   * Writes what is gathered, if anything. On failure the bytes held are dropped: `writeHeld` and `sync` throw from
   * then on, so their pieces are never reported verified and no resume record vouches for them.
   */
  #writeGathered(): void {
    const held = this.#gathered;
    if (held === 0) return;
    this.#gathered = 0;
    try {
      this.#writeNow(this.#gatherAt, this.#gather!.subarray(0, held));
    } catch (e) {
      this.#lost ??= e;
      throw e;
    }
  }

  #writeNow(offset: number, data: Uint8Array): void {
    eachPart(this.files, offset, data.length, (i, at, from, length) => {
      if (this.files[i].padding) return;
      this.empty[i] = false;
      const h = this.#handle(i, at + length === this.files[i].length);
      this.#seek(i, h, at);
      this.#pos[i] = -1; // unknown until the write is done
      // No new view when the piece lies in one file (a view per piece was 5% of what 16 KiB pieces allocated).
      const part = from === 0 && length === data.length ? data : data.subarray(from, from + length);
      let done = h.writeSync(part);
      while (done < length) done += h.writeSync(part.subarray(done));
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
    // One that fails leaves its file dirty: the closing flush tries again and reports the error.
    this.#flushing = this.#flushDirty().then(() => {}, () => {}).finally(() => this.#flushing = undefined);
  }

  /**
   * Flushes every dirty file, 32 at a time (each open one through its handle, which the flush holds even if the
   * file is closed to make room meanwhile; a closed one opened again for it). Files that fail stay dirty; the first
   * error is thrown once all were tried.
   */
  async #flushDirty(): Promise<void> {
    const files = [...this.#dirty];
    this.#dirty.clear();
    let error: unknown;
    await inParallel(files, 32, async (i) => {
      try {
        const open = this.#handles[i];
        if (open) await open.syncData();
        else {
          using file = await Deno.open(this.paths[i], { write: true });
          await file.syncData();
        }
      } catch (e) {
        this.#dirty.add(i);
        error ??= e;
      }
    });
    if (error) throw error;
  }

  read(offset: number, length: number): Promise<Uint8Array> {
    const out = new Uint8Array(length);
    this.readInto(offset, out);
    return Promise.resolve(out);
  }

  /** Reads into `into`; padding and bytes past a file's end read as zeros. */
  readInto(offset: number, into: Uint8Array): void {
    this.#writeGathered();
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
    this.writeHeld();
    await Promise.all([this.#flushing, ...this.#closing]);
    await this.#flushDirty();
  }

  /** Writes what is gathered, then closes every open file. A failure here is not thrown: `sync` is where it is. */
  close(): void {
    try {
      this.#writeGathered();
    } catch { /* those pieces are not on the disk, and no record says they are: the next check finds them */ }
    for (const i of this.#open) this.#handles[i]!.close();
    this.#handles.fill(undefined);
    this.#open.length = 0;
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
