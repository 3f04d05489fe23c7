/**
 * The serving half of a peer link: the requests a peer sends us, answered from verified data in order, in
 * batches of up to 256 KiB: each batch's blocks are read straight into one buffer of `piece` frames and written
 * with one call, and the next batch waits for the socket (back-pressure). Requests while we choke the peer, and
 * requests for a piece we lack, are ignored (BEP 3), or answered with `reject` when the peer speaks the fast
 * extension (BEP 6), as are the requests still queued when we choke it; one out of range or over 16 KiB ends the
 * connection, choked or not; the queue is capped (a cancelled request counts until the queue reaches it).
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

/**
 * Requests waiting, as (index, begin, length) triples in a ring allocated on first use: no object per request
 * lives on in the queue (a pipelining peer keeps hundreds there, and each would survive into the old heap), and
 * taking the next one costs the same however many wait. A cancelled request stays as a hole (length 0).
 */
class RequestRing {
  #slots?: Uint32Array;
  #head = 0;
  #size = 0;

  constructor(readonly capacity: number) {}

  get length(): number {
    return this.#size;
  }

  push(r: Request): void {
    const slots = this.#slots ??= new Uint32Array(this.capacity * 3);
    const at = ((this.#head + this.#size) % this.capacity) * 3;
    slots[at] = r.index;
    slots[at + 1] = r.begin;
    slots[at + 2] = r.length;
    this.#size++;
  }

  /** Drops holes at the front; the next request's length, or 0 when none waits. */
  peekLength(): number {
    const slots = this.#slots;
    while (this.#size > 0 && slots![this.#head * 3 + 2] === 0) this.#advance();
    return this.#size > 0 ? slots![this.#head * 3 + 2] : 0;
  }

  shift(): Request | undefined {
    if (this.peekLength() === 0) return undefined;
    const at = this.#head * 3, slots = this.#slots!;
    const r = { index: slots[at], begin: slots[at + 1], length: slots[at + 2] };
    this.#advance();
    return r;
  }

  /** Makes the first waiting request equal to `r` a hole. */
  remove(r: Request): void {
    for (let k = 0; k < this.#size; k++) {
      const at = ((this.#head + k) % this.capacity) * 3, slots = this.#slots!;
      if (slots[at] === r.index && slots[at + 1] === r.begin && slots[at + 2] === r.length) {
        slots[at + 2] = 0;
        return;
      }
    }
  }

  /** Every waiting request, and the ring emptied. */
  drain(): Request[] {
    const out: Request[] = [];
    let r;
    while ((r = this.shift())) out.push(r);
    return out;
  }

  #advance(): void {
    this.#head = (this.#head + 1) % this.capacity;
    this.#size--;
  }
}

export class UploadQueue {
  #queue = new RequestRing(MAX_QUEUED_REQUESTS);
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
    const dropped = this.#queue.drain();
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
    // A malformed request ends the connection whether we choke the peer or not.
    const { index, begin, length } = r;
    if (index >= this.input.pieceCount || length === 0 || length > BLOCK_SIZE) {
      return this.fail(`request out of range (piece ${index}, ${length} bytes)`);
    }
    if (begin + length > pieceSize(this.input, index)) {
      return this.fail(`request past the end of piece ${index}`);
    }
    if (this.#choking) return this.#reject(r);
    if (!this.input.ours.have.has(index)) return this.#reject(r);
    if (this.#queue.length >= MAX_QUEUED_REQUESTS) {
      return this.fail(`more than ${MAX_QUEUED_REQUESTS} requests queued`);
    }
    this.#queue.push(r);
    this.#serve();
  }

  cancel(r: Request): void {
    this.#queue.remove(r);
  }

  /** Takes requests off the queue up to `BATCH_BYTES` of frames. */
  #batch(): { batch: Request[]; bytes: number } {
    const batch: Request[] = [];
    let bytes = 0;
    let next;
    while (
      (next = this.#queue.peekLength()) > 0 && (bytes === 0 || bytes + PIECE_HEADER + next <= BATCH_BYTES)
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
        if (batch.length === 0) break; // only cancelled ones were left
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
