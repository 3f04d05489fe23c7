/**
 * Making a .torrent (v1, BEP 3) from files on disk: which files go in and in what order, the piece size, the
 * piece hashes (read once, in order, at disk speed) and the bencoded result with trackers (BEP 12 tiers), web
 * seeds (BEP 19) and the optional fields.
 *
 * What goes in: a file is itself a single-file torrent; a folder gives every regular file below it, sorted by
 * path, zero-length ones included. Hidden files and folders (names that start with ".") are left out unless asked
 * for, as are sockets, pipes and devices; symbolic links are followed, a loop of them is not.
 *
 * @module
 */

import bencode from "bencode";
import { createHash } from "node:crypto";

/** One file of the torrent to make: its path below the torrent's folder and where it is on disk. */
export interface SourceFile {
  path: string[];
  disk: string;
  length: number;
}

/** What `collectFiles` found under a path. */
export interface Collected {
  /** The torrent's name: the file's or the folder's base name. */
  name: string;
  /** True for a folder (a multi-file torrent), even with a single file in it. */
  multiFile: boolean;
  files: SourceFile[];
  /** What was left out, by why: hidden, special (sockets, pipes, devices), a link loop. */
  skipped: { hidden: number; special: number; loops: number };
}

/** The smallest and largest piece sizes `autoPieceLength` chooses. */
export const MIN_PIECE = 16 * 1024;
export const MAX_PIECE = 16 * 1024 * 1024;

/** A power of two from 16 KiB to 16 MiB that gives at most about 2,000 pieces (1,000 to 2,000 when it can). */
export function autoPieceLength(totalLength: number): number {
  let piece = MIN_PIECE;
  while (piece < MAX_PIECE && totalLength / piece > 2000) piece *= 2;
  return piece;
}

const baseName = (path: string) => path.replace(/[\\/]+$/, "").split(/[\\/]/).pop() || path;

const byPath = (a: SourceFile, b: SourceFile) => {
  const n = Math.min(a.path.length, b.path.length);
  for (let i = 0; i < n; i++) {
    if (a.path[i] !== b.path[i]) return a.path[i] < b.path[i] ? -1 : 1;
  }
  return a.path.length - b.path.length;
};

/** The files of the torrent to make from `root`. Throws a one-line error for a missing path or an empty folder. */
export async function collectFiles(root: string, opts: { includeHidden?: boolean } = {}): Promise<Collected> {
  let stat: Deno.FileInfo;
  try {
    stat = await Deno.stat(root);
  } catch (e) {
    throw new Error(`cannot read ${root}: ${(e as Error).message}`);
  }
  const name = baseName(await Deno.realPath(root));
  const skipped = { hidden: 0, special: 0, loops: 0 };
  if (stat.isFile) {
    return { name, multiFile: false, files: [{ path: [name], disk: root, length: stat.size }], skipped };
  }
  if (!stat.isDirectory) throw new Error(`${root} is neither a file nor a folder`);
  const files: SourceFile[] = [];
  const walk = async (dir: string, path: string[], seen: Set<string>) => {
    for await (const entry of Deno.readDir(dir)) {
      if (entry.name.startsWith(".") && !opts.includeHidden) {
        skipped.hidden++;
        continue;
      }
      const disk = `${dir}/${entry.name}`;
      const info = await Deno.stat(disk).catch(() => null); // follows links; a dangling one is skipped
      if (info?.isFile) {
        files.push({ path: [...path, entry.name], disk, length: info.size });
      } else if (info?.isDirectory) {
        const real = await Deno.realPath(disk);
        if (seen.has(real)) {
          skipped.loops++;
          continue;
        }
        await walk(disk, [...path, entry.name], new Set([...seen, real]));
      } else {
        skipped.special++;
      }
    }
  };
  await walk(root, [], new Set([await Deno.realPath(root)]));
  if (files.length === 0) throw new Error(`${root} has no files to put in a torrent`);
  files.sort(byPath);
  return { name, multiFile: true, files, skipped };
}

/** How far hashing has got. */
export interface HashProgress {
  done: number;
  total: number;
}

/**
 * SHA-1 of every piece of the files laid end to end, read once in order. `onProgress` is called after each read.
 * Throws when a file changed size while being read.
 */
export async function hashPieces(
  files: SourceFile[],
  pieceLength: number,
  onProgress?: (p: HashProgress) => void,
): Promise<Uint8Array> {
  const total = files.reduce((sum, f) => sum + f.length, 0);
  const out = new Uint8Array(Math.ceil(total / pieceLength) * 20);
  const buf = new Uint8Array(Math.max(pieceLength, 4 << 20));
  let hash = createHash("sha1");
  let inPiece = 0, pieces = 0, done = 0;
  const finish = () => {
    out.set(hash.digest(), pieces++ * 20);
    hash = createHash("sha1");
    inPiece = 0;
  };
  for (const f of files) {
    if (f.length === 0) continue;
    using file = await Deno.open(f.disk, { read: true });
    let left = f.length;
    while (left > 0) {
      const n = await file.read(buf.subarray(0, Math.min(buf.length, left)));
      if (n === null || n === 0) throw new Error(`${f.disk} is shorter than when it was listed`);
      for (let at = 0; at < n;) {
        const take = Math.min(n - at, pieceLength - inPiece);
        hash.update(buf.subarray(at, at + take));
        inPiece += take;
        at += take;
        if (inPiece === pieceLength) finish();
      }
      left -= n;
      done += n;
      onProgress?.({ done, total });
    }
  }
  if (inPiece > 0) finish();
  return out;
}

/** What goes into the torrent besides its files. */
export interface TorrentFields {
  /** Tiers of tracker URLs (BEP 12); the first URL is also `announce`. */
  trackers?: string[][];
  /** `url-list` (BEP 19). */
  webSeeds?: string[];
  /** `info.private` (BEP 27). */
  private?: boolean;
  comment?: string;
  /** `info.source`: a tracker's tag, which gives the torrent another infohash. */
  source?: string;
  /** Seconds since 1970 for `creation date`; absent: none. */
  creationDate?: number;
  createdBy?: string;
}

/** The bencoded .torrent of `collected`, hashed into `pieces` of `pieceLength`. */
export function encodeTorrent(
  collected: Collected,
  pieceLength: number,
  pieces: Uint8Array,
  fields: TorrentFields = {},
): Uint8Array {
  const info: Record<string, unknown> = { name: collected.name, "piece length": pieceLength, pieces };
  if (collected.multiFile) {
    info.files = collected.files.map((f) => ({ length: f.length, path: f.path }));
  } else {
    info.length = collected.files[0].length;
  }
  if (fields.private) info.private = 1;
  if (fields.source) info.source = fields.source;
  const top: Record<string, unknown> = { info };
  const tiers = (fields.trackers ?? []).filter((t) => t.length > 0);
  if (tiers.length > 0) {
    top.announce = tiers[0][0];
    if (tiers.flat().length > 1) top["announce-list"] = tiers;
  }
  if (fields.webSeeds?.length) top["url-list"] = fields.webSeeds;
  if (fields.comment) top.comment = fields.comment;
  if (fields.createdBy) top["created by"] = fields.createdBy;
  if (fields.creationDate !== undefined) top["creation date"] = fields.creationDate;
  return bencode.encode(top);
}
