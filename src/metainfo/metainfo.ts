/**
 * Parsing of v1 .torrent files (BEP 3): single-file and multi-file, with the infohash taken over the exact raw
 * bytes of the `info` dictionary.
 *
 * @module
 */

import { BencodeCursor, dictSpans, topLevelSpans } from "../common/bencode_strict.ts";
import { sha1, toHex } from "../common/bytes.ts";
import { bad, component, type FileEntry, parseFileList } from "./files.ts";

export type { FileEntry } from "./files.ts";

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

function lengthOf(d: Dict, key: string, where: string): number {
  const n = integerOf(d, key, where);
  if (n < 0) bad(`"${where}" is negative (${n})`);
  return n;
}

/** The values of `keys` in a dictionary whose spans are `spans`, decoded (byte strings as views of `bytes`). */
function decodeKeys(bytes: Uint8Array, spans: Map<string, { start: number }>, keys: string[]): Dict {
  const dict: Dict = {};
  for (const key of keys) {
    const span = spans.get(key);
    if (span) dict[key] = new BencodeCursor(bytes, span.start).value();
  }
  return dict;
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
  if (bytes[infoSpan.start] !== 0x64) bad(`"info" is not a dictionary`);
  const top = decodeKeys(bytes, spans, ["announce", "announce-list", "url-list", "httpseeds"]);
  const infoSpans = dictSpans(bytes, infoSpan.start);
  // Everything but the file list, which is read in place (`parseFileList`).
  const info = decodeKeys(bytes, infoSpans, [
    "name",
    "piece length",
    "pieces",
    "length",
    "private",
    "meta version",
  ]);
  const filesAt = infoSpans.get("files")?.start;

  const name = component(decoder.decode(bytesOf(info, "name", "info.name")), () => "info.name");
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
  const hasFiles = filesAt !== undefined;
  if (hasLength === hasFiles) bad(`"info" must have exactly one of "length" and "files"`);
  const warnings: string[] = [];
  const files: FileEntry[] = hasFiles
    ? parseFileList(bytes, filesAt, warnings)
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
