/**
 * Parsing of v1 .torrent files (BEP 3): single-file and multi-file, with the infohash taken over the exact raw
 * bytes of the `info` dictionary.
 *
 * @module
 */

import { decodeViews, topLevelSpans } from "../common/bencode_strict.ts";
import { sha1, toHex } from "../common/bytes.ts";

/** One file of a torrent, laid end to end with the others in piece space. */
export interface FileEntry {
  /** Path components below the torrent's folder (for a single-file torrent: just the name). */
  path: string[];
  /** Size in bytes. */
  length: number;
  /** Offset of the file's first byte in the torrent's concatenated data. */
  offset: number;
  /**
   * A padding file (BEP 47, `attr` contains `p`): zeros that align the next file to a piece. It is never created
   * on disk; its bytes read as zeros.
   */
  padding?: boolean;
  /** BEP 47 `attr` contains `x`: the file is made executable where the platform has the bit. */
  executable?: boolean;
  /**
   * BEP 47 `attr` contains `l`: a symbolic link to this path below the torrent's folder, created instead of a
   * file. Its target never leaves the folder (each component is checked like a file's).
   */
  symlink?: string[];
  /** A BEP 47 link whose target is unusable (outside the torrent's folder): nothing is created for it. */
  omitted?: boolean;
}

/** The pieces made of padding only (BEP 47): present from the start, never fetched. */
export function paddingPieces(meta: Pick<Metainfo, "files" | "pieceLength">): number[] {
  const out: number[] = [];
  for (const f of meta.files) {
    if (!f.padding) continue;
    const first = Math.ceil(f.offset / meta.pieceLength);
    const end = Math.floor((f.offset + f.length) / meta.pieceLength);
    for (let i = first; i < end; i++) out.push(i);
  }
  return out;
}

/** A parsed, validated .torrent file. */
export interface Metainfo {
  /** SHA-1 of the raw `info` dictionary: the torrent's identity. */
  infoHash: Uint8Array;
  /** The infohash as 40 lowercase hex digits. */
  infoHashHex: string;
  /** The suggested name: the file's, or the top folder's for a multi-file torrent. */
  name: string;
  /** Bytes per piece (the last piece may be shorter). */
  pieceLength: number;
  /** Number of pieces. */
  pieceCount: number;
  /** The 20-byte SHA-1 of every piece, concatenated. */
  pieceHashes: Uint8Array;
  /** Sum of every file's length. */
  totalLength: number;
  /** The files in torrent order, with their offsets in the whole. */
  files: FileEntry[];
  /** True for a torrent with a `files` list (its data goes into a folder named `name`). */
  multiFile: boolean;
  /** BEP 27: peers only from the torrent's trackers (no PEX, no DHT). */
  private: boolean;
  /** Tracker tiers: `announce-list` when present, else `[[announce]]`. */
  trackers: string[][];
  /**
   * Web seeds: the HTTP(S) URLs of `url-list` (BEP 19) and `httpseeds`, read as the same kind of plain file URLs
   * (as Transmission does); other schemes and duplicates are left out.
   */
  webSeeds: string[];
  /** The raw bencoded `info` dictionary, as it stands in the file. */
  rawInfo: Uint8Array;
  /** What the torrent asks that we leave out, one line each (a symbolic link pointing outside its folder). */
  warnings: string[];
}

type Dict = Record<string, unknown>;

const decoder = new TextDecoder();

function bad(message: string): never {
  throw new SyntaxError(`Cannot parse torrent: ${message}`);
}

function isDict(v: unknown): v is Dict {
  return typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
}

function bytesOf(d: Dict, key: string, where: string): Uint8Array {
  const v = d[key];
  if (v === undefined) bad(`missing "${where}"`);
  if (!(v instanceof Uint8Array)) bad(`"${where}" is not a byte string`);
  return v;
}

function integerOf(d: Dict, key: string, where: string): number {
  const v = d[key];
  if (v === undefined) bad(`missing "${where}"`);
  if (typeof v !== "number") bad(`"${where}" is not an integer`);
  if (!Number.isSafeInteger(v)) bad(`"${where}" ${v} is out of range`);
  return v;
}

/** Checks one path component; throws for anything that could escape the output folder or is not a name. */
function component(raw: Uint8Array, where: string): string {
  const s = decoder.decode(raw);
  if (s.length === 0) bad(`"${where}" has an empty path component`);
  if (s === "." || s === "..") bad(`"${where}" has a "${s}" path component`);
  if (s.includes("/") || s.includes("\\")) bad(`"${where}" component "${s}" contains a path separator`);
  if (s.includes("\0")) bad(`"${where}" component contains a NUL byte`);
  return s;
}

function lengthOf(d: Dict, key: string, where: string): number {
  const n = integerOf(d, key, where);
  if (n < 0) bad(`"${where}" is negative (${n})`);
  return n;
}

/** A BEP 47 link's target, or a warning when it is missing or leaves the torrent's folder. */
function linkTarget(f: Dict, path: string[]): string[] | string {
  const raw = f["symlink path"];
  const where = `"${path.join("/")}"`;
  if (!Array.isArray(raw) || raw.length === 0 || !raw.every((p) => p instanceof Uint8Array)) {
    return `left out the symbolic link ${where}: it has no usable "symlink path"`;
  }
  try {
    return raw.map((p) => component(p, "symlink path"));
  } catch {
    const target = raw.map((p) => decoder.decode(p as Uint8Array)).join("/");
    return `left out the symbolic link ${where}: its target "${target}" is not inside the torrent's folder`;
  }
}

function parseFiles(list: unknown, warnings: string[]): FileEntry[] {
  if (!Array.isArray(list)) bad(`"info.files" is not a list`);
  if (list.length === 0) bad(`"info.files" is empty`);
  const files: FileEntry[] = [];
  let offset = 0;
  list.forEach((f, i) => {
    const where = `info.files[${i}]`;
    if (!isDict(f)) bad(`"${where}" is not a dictionary`);
    const length = lengthOf(f, "length", `${where}.length`);
    const path = f.path;
    if (path === undefined) bad(`missing "${where}.path"`);
    if (!Array.isArray(path)) bad(`"${where}.path" is not a list`);
    if (path.length === 0) bad(`"${where}.path" is empty`);
    const parts = path.map((p, j) => {
      if (!(p instanceof Uint8Array)) bad(`"${where}.path[${j}]" is not a byte string`);
      return component(p, `${where}.path`);
    });
    const attr = f.attr instanceof Uint8Array ? decoder.decode(f.attr) : "";
    const entry: FileEntry = { path: parts, length, offset };
    if (attr.includes("p")) entry.padding = true;
    if (attr.includes("x")) entry.executable = true;
    if (attr.includes("l") && length === 0) {
      const target = linkTarget(f, parts);
      if (typeof target === "string") {
        warnings.push(target);
        entry.omitted = true;
      } else {
        entry.symlink = target;
      }
    }
    files.push(entry);
    offset += length;
  });
  checkCollisions(files);
  return files;
}

/**
 * Refuses two files at one path, a file that is also another file's folder, and paths that differ only in case
 * (on a case-insensitive disk they would be one file, and two files' pieces would overwrite each other).
 */
function checkCollisions(files: FileEntry[]): void {
  const seen = new Map<string, string>();
  const folders = new Map<string, string>();
  for (const f of files) {
    const path = f.path.join("/");
    const key = path.toLowerCase();
    const other = seen.get(key);
    if (other !== undefined) {
      bad(
        other === path
          ? `file "${path}" appears twice`
          : `files "${other}" and "${path}" differ only in case`,
      );
    }
    seen.set(key, path);
    for (let n = 1; n < f.path.length; n++) {
      const folder = f.path.slice(0, n).join("/");
      folders.set(folder.toLowerCase(), folder);
    }
  }
  for (const [key, path] of seen) {
    if (folders.has(key)) bad(`"${path}" is both a file and a folder`);
  }
}

function parseTrackers(top: Dict): string[][] {
  const tiers: string[][] = [];
  const list = top["announce-list"];
  if (Array.isArray(list)) {
    for (const tier of list) {
      if (!Array.isArray(tier)) continue;
      const urls = tier.filter((u) => u instanceof Uint8Array).map((u) => decoder.decode(u as Uint8Array));
      if (urls.length > 0) tiers.push(urls);
    }
  }
  if (tiers.length === 0 && top.announce instanceof Uint8Array) tiers.push([decoder.decode(top.announce)]);
  return tiers;
}

/** A URL we fetch a web seed from: http or https, no spaces. */
export function isWebSeedUrl(url: string): boolean {
  return /^https?:\/\/\S+$/i.test(url);
}

function parseWebSeeds(top: Dict): string[] {
  const urls = new Set<string>();
  for (const key of ["url-list", "httpseeds"]) {
    const v = top[key];
    for (const item of Array.isArray(v) ? v : [v]) {
      if (!(item instanceof Uint8Array)) continue;
      const url = decoder.decode(item).trim();
      if (isWebSeedUrl(url)) urls.add(url);
    }
  }
  return [...urls];
}

/**
 * Parses a .torrent file. Throws SyntaxError with a one-line `Cannot parse torrent: …` message on any malformed
 * or unsafe input.
 *
 * @example
 * ```ts
 * const meta = await parseMetainfo(await Deno.readFile("file.torrent"));
 * console.log(meta.name, meta.infoHashHex, meta.totalLength);
 * ```
 */
export async function parseMetainfo(bytes: Uint8Array): Promise<Metainfo> {
  let spans;
  try {
    spans = topLevelSpans(bytes);
  } catch (e) {
    bad(`not valid bencode (${(e as Error).message})`);
  }
  const infoSpan = spans.get("info");
  if (!infoSpan) bad(`missing "info"`);
  const top = decodeViews(bytes) as Dict;
  const info = top.info;
  if (!isDict(info)) bad(`"info" is not a dictionary`);

  const name = component(bytesOf(info, "name", "info.name"), "info.name");
  const pieceLength = integerOf(info, "piece length", "info.piece length");
  if (pieceLength <= 0) bad(`"info.piece length" must be positive, got ${pieceLength}`);
  if (info.pieces === undefined && info["meta version"] === 2) {
    bad(
      "it is a v2-only torrent (BEP 52), which is not supported yet; a hybrid (v1+v2) torrent of it would work",
    );
  }
  // A copy: the decoded strings are views of `bytes`, which the caller may reuse.
  const pieceHashes = bytesOf(info, "pieces", "info.pieces").slice();
  if (pieceHashes.length % 20 !== 0) {
    bad(`"info.pieces" length ${pieceHashes.length} is not a multiple of 20`);
  }

  const hasLength = info.length !== undefined;
  const hasFiles = info.files !== undefined;
  if (hasLength === hasFiles) bad(`"info" must have exactly one of "length" and "files"`);
  const warnings: string[] = [];
  const files = hasFiles
    ? parseFiles(info.files, warnings)
    : [{ path: [name], length: lengthOf(info, "length", "info.length"), offset: 0 }];
  const totalLength = files.reduce((sum, f) => sum + f.length, 0);
  if (!Number.isSafeInteger(totalLength)) bad(`total length is out of range`);
  if (totalLength === 0) bad(`the torrent holds no data (total length 0)`);
  const pieceCount = pieceHashes.length / 20;
  const expected = Math.ceil(totalLength / pieceLength);
  if (pieceCount !== expected) {
    bad(
      `${pieceCount} piece hashes for ${totalLength} bytes in pieces of ${pieceLength} (expected ${expected})`,
    );
  }

  const rawInfo = bytes.slice(infoSpan.start, infoSpan.end);
  const infoHash = await sha1(rawInfo);
  return {
    infoHash,
    infoHashHex: toHex(infoHash),
    name,
    pieceLength,
    pieceCount,
    pieceHashes,
    totalLength,
    files,
    multiFile: hasFiles,
    private: info.private === 1,
    trackers: parseTrackers(top),
    webSeeds: parseWebSeeds(top),
    rawInfo,
    warnings,
  };
}

/** Length in bytes of piece `index` (the last one may be short). */
export function pieceSize(meta: Pick<Metainfo, "pieceLength" | "totalLength">, index: number): number {
  return Math.min(meta.pieceLength, meta.totalLength - index * meta.pieceLength);
}
