/**
 * Web seeds (BEP 19) as byte ranges: the URL of each file under a web seed's URL, and the HTTP range requests
 * that fetch a run of consecutive pieces, file by file. Padding files (BEP 47) are never requested: their bytes
 * are zeros. Nothing here does I/O.
 *
 * @module
 */

import type { FileEntry, Metainfo } from "../metainfo/metainfo.ts";
import { pieceSize } from "../metainfo/metainfo.ts";

/** One HTTP range request: bytes `[start, start + length)` of the file at `url`, landing at `at` in the run. */
export interface RangeRequest {
  url: string;
  start: number;
  length: number;
  /** Where the bytes go, as an offset from the run's first byte. */
  at: number;
  /** The whole file's length (a server that ignores `Range` may answer with all of it when that is what we asked). */
  fileLength: number;
}

/** A run of consecutive pieces and how to fetch it. */
export interface RunPlan {
  first: number;
  count: number;
  /** Bytes in the run (the last piece may be short). */
  length: number;
  requests: RangeRequest[];
  /** Ranges of padding in the run (offsets from its first byte): zeros, never fetched. */
  zeros: { at: number; length: number }[];
}

type Layout = Pick<Metainfo, "name" | "files" | "multiFile" | "pieceLength" | "totalLength">;

/**
 * The URL of `file` at the web seed `base` (BEP 19): a single-file torrent's file is `base` itself, or `base`
 * plus the torrent's name when `base` ends with `/`; a multi-file torrent's files are under `base/name/`, each
 * path component URL-encoded.
 */
export function fileUrl(base: string, meta: Pick<Metainfo, "name" | "multiFile">, file: FileEntry): string {
  if (!meta.multiFile) return base.endsWith("/") ? base + encodeURIComponent(meta.name) : base;
  const folder = base.endsWith("/") ? base : base + "/";
  return folder + [meta.name, ...file.path].map(encodeURIComponent).join("/");
}

/** The requests for pieces `first` to `first + count - 1` from the web seed at `base`. */
export function planRun(base: string, meta: Layout, first: number, count: number): RunPlan {
  const from = first * meta.pieceLength;
  let length = 0;
  for (let i = first; i < first + count; i++) length += pieceSize(meta, i);
  const to = from + length;
  const requests: RangeRequest[] = [];
  const zeros: { at: number; length: number }[] = [];
  for (const file of meta.files) {
    const start = Math.max(from, file.offset);
    const end = Math.min(to, file.offset + file.length);
    if (end <= start) continue;
    if (file.padding) {
      zeros.push({ at: start - from, length: end - start });
      continue;
    }
    requests.push({
      url: fileUrl(base, meta, file),
      start: start - file.offset,
      length: end - start,
      at: start - from,
      fileLength: file.length,
    });
  }
  return { first, count, length, requests, zeros };
}

/**
 * The bytes of a run of pieces, one buffer per piece, written in pieces of any size at offsets from the run's
 * first byte (a chunk of an HTTP body may straddle two pieces).
 */
export class RunBuffer {
  readonly pieces: Uint8Array[];
  readonly #pieceLength: number;

  constructor(pieceLength: number, sizes: number[], take: (size: number) => Uint8Array) {
    this.#pieceLength = pieceLength;
    this.pieces = sizes.map((size) => {
      const buf = take(size);
      return buf.length === size ? buf : buf.subarray(0, size);
    });
  }

  /** Copies `bytes` to offset `at` of the run. */
  write(at: number, bytes: Uint8Array): void {
    let done = 0;
    while (done < bytes.length) {
      const i = Math.floor((at + done) / this.#pieceLength);
      const within = (at + done) - i * this.#pieceLength;
      const piece = this.pieces[i];
      if (!piece || within >= piece.length) throw new RangeError(`write past the run's end at ${at + done}`);
      const n = Math.min(piece.length - within, bytes.length - done);
      piece.set(bytes.subarray(done, done + n), within);
      done += n;
    }
  }

  /** Zeros `length` bytes at offset `at` (padding: the buffers may be reused ones). */
  zero(at: number, length: number): void {
    let done = 0;
    while (done < length) {
      const i = Math.floor((at + done) / this.#pieceLength);
      const within = (at + done) - i * this.#pieceLength;
      const piece = this.pieces[i];
      const n = Math.min(piece.length - within, length - done);
      piece.fill(0, within, within + n);
      done += n;
    }
  }
}
