/** Builds .torrent files and payloads for tests. */

import bencode from "bencode";
import { concat, sha1 } from "../../src/common/bytes.ts";
import { type Metainfo, parseMetainfo } from "../../src/metainfo/metainfo.ts";

export interface TestFile {
  path: string[];
  data: Uint8Array;
  /** BEP 47 attributes: `p` padding, `x` executable, `h` hidden, `l` symlink. */
  attr?: string;
  /** BEP 47 `symlink path`, for a link (`attr` l). */
  symlink?: string[];
}

/** Deterministic pseudo-random bytes (xorshift), so failures reproduce. */
export function payload(length: number, seed = 1): Uint8Array {
  const out = new Uint8Array(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

export async function pieceHashes(data: Uint8Array, pieceLength: number): Promise<Uint8Array> {
  const hashes: Uint8Array[] = [];
  for (let at = 0; at < data.length; at += pieceLength) {
    hashes.push(await sha1(data.subarray(at, at + pieceLength)));
  }
  return concat(hashes);
}

/** A single-file (one entry with path [name]) or multi-file torrent over `files`. */
export async function makeTorrent(opts: {
  name: string;
  files: TestFile[];
  pieceLength: number;
  announce?: string;
  multiFile?: boolean;
  private?: boolean;
  /** `url-list` (BEP 19). */
  webSeeds?: string[];
}): Promise<{ torrent: Uint8Array; data: Uint8Array }> {
  const data = concat(opts.files.map((f) => f.data));
  const info: Record<string, unknown> = {
    name: opts.name,
    "piece length": opts.pieceLength,
    pieces: await pieceHashes(data, opts.pieceLength),
  };
  if (opts.multiFile ?? opts.files.length > 1) {
    info.files = opts.files.map((f) => ({
      length: f.data.length,
      path: f.path,
      ...(f.attr ? { attr: f.attr } : {}),
      ...(f.symlink ? { "symlink path": f.symlink } : {}),
    }));
  } else {
    info.length = data.length;
  }
  if (opts.private) info.private = 1;
  const top: Record<string, unknown> = { info };
  if (opts.announce) top.announce = opts.announce;
  if (opts.webSeeds) top["url-list"] = opts.webSeeds;
  return { torrent: bencode.encode(top), data };
}

/**
 * A single-file torrent of `size` pseudo-random bytes (seeded, so runs repeat), parsed: what most tests download.
 */
export async function testTorrent(opts: {
  size: number;
  pieceLength: number;
  seed?: number;
  name?: string;
  private?: boolean;
  announce?: string;
}): Promise<{ meta: Metainfo; torrent: Uint8Array; data: Uint8Array }> {
  const name = opts.name ?? "t.bin";
  const { torrent, data } = await makeTorrent({
    name,
    files: [{ path: [name], data: payload(opts.size, opts.seed ?? 1) }],
    pieceLength: opts.pieceLength,
    private: opts.private,
    announce: opts.announce,
  });
  return { meta: await parseMetainfo(torrent), torrent, data };
}
