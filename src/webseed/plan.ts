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
 * first byte (a chunk of an HTTP body may straddle two pieces). A piece's buffer is taken when its first byte
 * arrives, and whole pieces are handed over in order as they complete (`takeComplete`), so a 16 MiB run holds
 * only the pieces still being filled.
 */
export class RunBuffer {
  readonly #pieceLength: number;
  readonly #sizes: number[];
  readonly #take: (size: number) => Uint8Array;
  readonly #pieces: (Uint8Array | undefined)[];
  readonly #filled: number[];
  /** The first piece not yet handed over. */
  #next = 0;

  constructor(pieceLength: number, sizes: number[], take: (size: number) => Uint8Array) {
    this.#pieceLength = pieceLength;
    this.#sizes = sizes;
    this.#take = take;
    this.#pieces = sizes.map(() => undefined);
    this.#filled = sizes.map(() => 0);
  }

  /** Copies `bytes` to offset `at` of the run. */
  write(at: number, bytes: Uint8Array): void {
    this.#each(
      at,
      bytes.length,
      (piece, within, done, n) => piece.set(bytes.subarray(done, done + n), within),
    );
  }

  /** Zeros `length` bytes at offset `at` (padding: the buffers may be reused ones). */
  zero(at: number, length: number): void {
    this.#each(at, length, (piece, within, _done, n) => piece.fill(0, within, within + n));
  }

  /**
   * The pieces complete from the first not yet handed over, as `[offset in the run, bytes]`: the run no longer
   * holds them. A piece after one still incomplete waits for it.
   */
  takeComplete(): [number, Uint8Array][] {
    const out: [number, Uint8Array][] = [];
    while (this.#next < this.#sizes.length && this.#filled[this.#next] === this.#sizes[this.#next]) {
      out.push([this.#next, this.#pieces[this.#next]!]);
      this.#pieces[this.#next++] = undefined;
    }
    return out;
  }

  /** Buffers of the pieces never handed over (for the pool, when the run fails). */
  leftovers(): Uint8Array[] {
    const out = this.#pieces.filter((p) => p !== undefined);
    this.#pieces.fill(undefined);
    return out;
  }

  #each(
    at: number,
    length: number,
    fill: (piece: Uint8Array, within: number, done: number, n: number) => void,
  ) {
    let done = 0;
    while (done < length) {
      const i = Math.floor((at + done) / this.#pieceLength);
      const within = (at + done) - i * this.#pieceLength;
      const size = this.#sizes[i];
      if (size === undefined || i < this.#next || within >= size) {
        throw new RangeError(`write past the run's end or into a piece handed over, at ${at + done}`);
      }
      const piece = this.#pieces[i] ??= this.#piece(size);
      const n = Math.min(size - within, length - done);
      fill(piece, within, done, n);
      this.#filled[i] += n;
      done += n;
    }
  }

  #piece(size: number): Uint8Array {
    const buf = this.#take(size);
    return buf.length === size ? buf : buf.subarray(0, size);
  }
}
