/**
 * The serving half of a peer link: the requests a peer sends us, answered from verified data in order, in
 * batches of up to 256 KiB: each batch's blocks are read straight into one buffer of `piece` frames and written
 * with one call, and the next batch waits for the socket (back-pressure). Requests while we choke the peer, and requests for a piece we lack, are
 * ignored (BEP 3), or answered with `reject` when the peer speaks the fast extension (BEP 6), as are the requests
 * still queued when we choke it; one out of range or over 16 KiB ends the connection; the queue is capped.
 *
 * @module
 */

import { BLOCK_SIZE } from "../wire/blocks.ts";
import type { LocalPieces } from "../pieces/local_pieces.ts";
import { pieceSize } from "../metainfo/metainfo.ts";
import { encodeMessage } from "../wire/wire.ts";

/** Requests queued per peer before it is dropped for flooding. */
export const MAX_QUEUED_REQUESTS = 2048;

export interface UploadInput {
  pieceLength: number;
  pieceCount: number;
  totalLength: number;
  ours: LocalPieces;
  /** Reads `length` bytes at `offset` of the torrent's data. */
  readBlock: (offset: number, length: number) => Promise<Uint8Array>;
  /** Reads into a buffer, when the storage can (no copy); otherwise `readBlock` is used. */
  readInto?: (offset: number, into: Uint8Array) => void;
  /** A write of blocks that waits this long (the peer reads nothing) ends the connection (default 30 s). */
  sendStallMs?: number;
}

/** Bytes of `piece` frames sent with one write. */
const BATCH_BYTES = 256 * 1024;
/** A `piece` frame's header: length prefix, id, index, begin. */
const PIECE_HEADER = 13;

interface Request {
  index: number;
  begin: number;
  length: number;
}

export class UploadQueue {
  #queue: Request[] = [];
  #serving = false;
  #frames?: Uint8Array;
  #choking = true;
  /** Payload bytes sent to this peer. */
  uploaded = 0;
  /** Both sides speak the fast extension: requests we do not serve are rejected, not dropped in silence. */
  fast = false;

  constructor(
    readonly input: UploadInput,
    /** Sends bytes and resolves when the socket took them. */
    readonly send: (bytes: Uint8Array) => Promise<void>,
    /** Ends the connection with a reason. */
    readonly fail: (reason: string) => void,
  ) {}

  get choking(): boolean {
    return this.#choking;
  }

  get queued(): number {
    return this.#queue.length;
  }

  choke(): void {
    if (this.#choking) return;
    this.#choking = true;
    const dropped = this.#queue;
    this.#queue = [];
    this.send(encodeMessage({ type: "choke" }));
    for (const r of dropped) this.#reject(r);
  }

  #reject(r: Request): void {
    if (this.fast) {
      this.send(encodeMessage({ type: "reject", index: r.index, begin: r.begin, length: r.length }));
    }
  }

  unchoke(): void {
    if (!this.#choking) return;
    this.#choking = false;
    this.send(encodeMessage({ type: "unchoke" }));
  }

  request(r: Request): void {
    if (this.#choking) return this.#reject(r);
    const { index, begin, length } = r;
    if (index >= this.input.pieceCount || length === 0 || length > BLOCK_SIZE) {
      return this.fail(`request out of range (piece ${index}, ${length} bytes)`);
    }
    if (begin + length > pieceSize(this.input, index)) {
      return this.fail(`request past the end of piece ${index}`);
    }
    if (!this.input.ours.have.has(index)) return this.#reject(r);
    if (this.#queue.length >= MAX_QUEUED_REQUESTS) {
      return this.fail(`more than ${MAX_QUEUED_REQUESTS} requests queued`);
    }
    this.#queue.push(r);
    this.#serve();
  }

  cancel(r: Request): void {
    this.#queue = this.#queue.filter((q) =>
      q.index !== r.index || q.begin !== r.begin || q.length !== r.length
    );
  }

  /** Takes requests off the queue up to `BATCH_BYTES` of frames. */
  #batch(): { batch: Request[]; bytes: number } {
    const batch: Request[] = [];
    let bytes = 0;
    while (
      this.#queue.length > 0 && (bytes === 0 || bytes + PIECE_HEADER + this.#queue[0].length <= BATCH_BYTES)
    ) {
      const r = this.#queue.shift()!;
      batch.push(r);
      bytes += PIECE_HEADER + r.length;
    }
    return { batch, bytes };
  }

  /** Sends a batch; a peer that takes none of it for `sendStallMs` is ended: its blocks would sit here. */
  async #sendOrStall(frames: Uint8Array): Promise<void> {
    const ms = this.input.sendStallMs ?? 30_000;
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      await Promise.race([
        this.send(frames),
        new Promise<never>((_, reject) =>
          timer = setTimeout(() => reject(new Error(`the peer read nothing for ${ms / 1000} s`)), ms)
        ),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  async #serve(): Promise<void> {
    if (this.#serving) return;
    this.#serving = true;
    try {
      while (!this.#choking && this.#queue.length > 0) {
        const { batch, bytes } = this.#batch();
        // One buffer per peer, reused: the last batch's write is done before the next one is built.
        this.#frames ??= new Uint8Array(BATCH_BYTES + PIECE_HEADER + BLOCK_SIZE);
        const frames = this.#frames.subarray(0, bytes);
        const view = new DataView(frames.buffer, frames.byteOffset, frames.byteLength);
        let at = 0;
        for (const r of batch) {
          view.setUint32(at, 9 + r.length);
          frames[at + 4] = 7; // piece
          view.setUint32(at + 5, r.index);
          view.setUint32(at + 9, r.begin);
          const offset = r.index * this.input.pieceLength + r.begin;
          const into = frames.subarray(at + PIECE_HEADER, at + PIECE_HEADER + r.length);
          if (this.input.readInto) this.input.readInto(offset, into);
          else into.set(await this.input.readBlock(offset, r.length));
          at += PIECE_HEADER + r.length;
        }
        if (this.#choking) {
          for (const r of batch) this.#reject(r);
          break;
        }
        await this.#sendOrStall(frames);
        const payload = bytes - PIECE_HEADER * batch.length;
        this.uploaded += payload;
        this.input.ours.uploaded += payload;
      }
    } catch (e) {
      this.fail(`cannot serve a block: ${(e as Error).message}`);
    } finally {
      this.#serving = false;
    }
  }
}
