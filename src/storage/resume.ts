/**
 * The resume record: which pieces were verified when the client last stopped cleanly, with the size and
 * modification time of every file at that moment. It is a hint that lets a clean restart skip the hash check. Any
 * difference on disk (a size, a modification time, a missing file) or any damage to the record itself makes it void,
 * and the data is checked instead. It is written to a temporary file and renamed into place, so it is whole or absent.
 *
 * @module
 */

import { Bitfield } from "../common/bitfield.ts";
import { fromHex, toHex } from "../common/bytes.ts";
import type { Metainfo } from "../metainfo/metainfo.ts";
import { inParallel } from "../common/parallel.ts";

/** Loads and saves the verified-piece hint for one torrent's data. */
export interface ResumeStore {
  /** The pieces the record vouches for, or undefined when there is no valid record for the data as it is now. */
  load(meta: Metainfo): Promise<Bitfield | undefined>;
  /** Records `have`; called only after the data is flushed to disk. */
  save(meta: Metainfo, have: Bitfield): Promise<void>;
  /**
   * Instead of `save`, when a store has it: called as the flush starts, it records `have` once `flushed` has
   * succeeded and nothing if it fails, and may look at the files meanwhile (a flush changes no size or time).
   */
  saveOnceFlushed?(meta: Metainfo, have: Bitfield, flushed: Promise<unknown>): Promise<void>;
}

interface Record {
  version: 1;
  infoHash: string;
  files: { size: number; mtimeMs: number }[];
  have: string;
}

/**
 * Each file's size and modification time, 32 looked at at once; a file that is not there (never written yet, or
 * padding, which is never on disk) as size -1. Undefined when a path holds something other than a file.
 */
async function fileStates(paths: string[]): Promise<{ size: number; mtimeMs: number }[] | undefined> {
  const states: { size: number; mtimeMs: number }[] = new Array(paths.length);
  let usable = true;
  await inParallel([...paths.keys()], 32, async (i) => {
    const stat = await Deno.stat(paths[i]).catch(() => null);
    if (stat && (!stat.isFile || !stat.mtime)) usable = false;
    states[i] = stat?.mtime ? { size: stat.size, mtimeMs: stat.mtime.getTime() } : { size: -1, mtimeMs: 0 };
  });
  return usable ? states : undefined;
}

/** A resume record kept as JSON at `path`, vouching for the files at `dataPaths`. */
export class FileResume implements ResumeStore {
  constructor(readonly path: string, readonly dataPaths: string[]) {}

  async load(meta: Metainfo): Promise<Bitfield | undefined> {
    try {
      const record = JSON.parse(await Deno.readTextFile(this.path)) as Record;
      if (record.version !== 1 || record.infoHash !== meta.infoHashHex) return undefined;
      const now = await fileStates(this.dataPaths);
      if (!now || now.length !== record.files?.length) return undefined;
      const same = now.every((f, i) =>
        f.size === record.files[i].size && f.mtimeMs === record.files[i].mtimeMs
      );
      return same ? new Bitfield(meta.pieceCount, fromHex(record.have)) : undefined;
    } catch {
      return undefined; // absent or damaged: the data will be checked
    }
  }

  save(meta: Metainfo, have: Bitfield): Promise<void> {
    return this.saveOnceFlushed(meta, have, Promise.resolve());
  }

  async saveOnceFlushed(meta: Metainfo, have: Bitfield, flushed: Promise<unknown>): Promise<void> {
    // The files are looked at while the flush runs: for 10,000 files, 70-100 ms of `stat`s that came after it.
    const [files] = await Promise.all([fileStates(this.dataPaths), flushed]);
    if (!files) return;
    const record: Record = { version: 1, infoHash: meta.infoHashHex, files, have: toHex(have.bytes) };
    const tmp = `${this.path}.${crypto.randomUUID().slice(0, 8)}.tmp`;
    await Deno.writeTextFile(tmp, JSON.stringify(record));
    const f = await Deno.open(tmp, { write: true });
    try {
      await f.syncData();
    } finally {
      f.close();
    }
    await Deno.rename(tmp, this.path);
  }
}

/** Where the resume record of the data at `out` lives: beside it, so a multi-file folder holds only its files. */
export function resumePath(out: string): string {
  return `${out.replace(/\/+$/, "")}.resume.json`;
}
