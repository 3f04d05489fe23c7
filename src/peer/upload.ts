/**
 * The serving half of a peer link: the requests a peer sends us, answered from verified data in order, in
 * batches of up to 256 KiB: each batch's blocks are read straight into one buffer of `piece` frames and written
 * with one call, and the next batch waits for the socket (back-pressure). Requests while we choke the peer, and
 * requests for a piece we lack, are ignored (BEP 3), or answered with `reject` when the peer speaks the fast
 * extension (BEP 6), as are the requests still queued when we choke it; one out of range or over 16 KiB ends the
 * connection, choked or not; the queue is capped at 2,048 waiting requests (cancelled ones do not count).
 *
 * @module
 */

import { BLOCK_SIZE } from "../wire/blocks.ts";
import type { LocalPieces } from "../pieces/local_pieces.ts";
import { pieceSize } from "../metainfo/metainfo.ts";
import { encodeMessage } from "../wire/wire.ts";
import { BufferPool } from "../common/buffer_pool.ts";

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
/** Frame buffers of peers that are gone, for the next ones (a few kept; see `BufferPool`). */
const framePool = new BufferPool(BATCH_BYTES + PIECE_HEADER + BLOCK_SIZE, 16);

/** A request as the peer sent it. */
export interface Request {
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
  /** Slots in use, holes included. */
  #size = 0;
  /** Requests waiting (not holes). */
  #live = 0;

  constructor(readonly capacity: number) {}

  /** Requests waiting; cancelled ones do not count. */
  get length(): number {
    return this.#live;
  }

  /** Queues a request; the caller keeps `length` under `capacity`. A ring full of holes is compacted first. */
  push(index: number, begin: number, length: number): void {
    const slots = this.#slots ??= new Uint32Array(this.capacity * 3);
    if (this.#size === this.capacity) this.#compact(slots);
    const at = ((this.#head + this.#size) % this.capacity) * 3;
    slots[at] = index;
    slots[at + 1] = begin;
    slots[at + 2] = length;
    this.#size++;
    this.#live++;
  }

  /** Moves the waiting requests to the front, in order, without the holes between them. */
  #compact(slots: Uint32Array): void {
    const kept = new Uint32Array(this.#live * 3);
    let n = 0;
    for (let k = 0; k < this.#size; k++) {
      const at = ((this.#head + k) % this.capacity) * 3;
      if (slots[at + 2] !== 0) kept.set(slots.subarray(at, at + 3), 3 * n++);
    }
    slots.set(kept);
    this.#head = 0;
    this.#size = n;
  }

  /** Drops holes at the front; the next request's length, or 0 when none waits. */
  peekLength(): number {
    const slots = this.#slots;
    while (this.#size > 0 && slots![this.#head * 3 + 2] === 0) this.#advance();
    return this.#size > 0 ? slots![this.#head * 3 + 2] : 0;
  }

  /** The next request's index and offset (after `peekLength` said there is one). */
  get headIndex(): number {
    return this.#slots![this.#head * 3];
  }

  get headBegin(): number {
    return this.#slots![this.#head * 3 + 1];
  }

  /** Takes the next request off the queue (after `peekLength` said there is one). */
  advance(): void {
    this.#live--;
    this.#advance();
  }

  /** Makes the first waiting request equal to (index, begin, length) a hole. */
  remove(index: number, begin: number, length: number): void {
    for (let k = 0; k < this.#size; k++) {
      const at = ((this.#head + k) % this.capacity) * 3, slots = this.#slots!;
      if (slots[at] === index && slots[at + 1] === begin && slots[at + 2] === length) {
        slots[at + 2] = 0;
        this.#live--;
        return;
      }
    }
  }

  /** Every waiting request, and the ring emptied. */
  drain(): Request[] {
    const out: Request[] = [];
    let length;
    while ((length = this.peekLength()) > 0) {
      out.push({ index: this.headIndex, begin: this.headBegin, length });
      this.advance();
    }
    return out;
  }

  #advance(): void {
    this.#head = (this.#head + 1) % this.capacity;
    this.#size--;
  }
}

/**
 * One peer's requests, served in batches. Requests only queue up as the link reads them; serving starts in a
 * microtask, once the link has handled everything the read brought, so the requests a read carries leave in one
 * write instead of the first one alone. Nothing here allocates per request or per batch: the frames are built in
 * one buffer per peer, and the requests of a batch are read back from its frame headers when they must be
 * rejected.
 */
export class UploadQueue {
  #queue = new RequestRing(MAX_QUEUED_REQUESTS);
  #serving = false;
  #scheduled = false;
  #frames?: Uint8Array;
  #view?: DataView;
  #choking = true;
  /** When the write in progress began (0: none): a peer that reads nothing is found by `stalled`. */
  #sendingSince = 0;
  #released = false;
  /** Block bytes in the batch being built. */
  #payload = 0;
  readonly #serveSoon = () => {
    this.#scheduled = false;
    this.#serve();
  };
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

  /**
   * Why the connection should end, when a write of blocks has waited more than `sendStallMs` (default 30 s):
   * the peer reads nothing, and its blocks would sit here. The link checks it on its timer.
   */
  stall(now: number): string | undefined {
    const ms = this.input.sendStallMs ?? 30_000;
    if (this.#sendingSince > 0 && now - this.#sendingSince > ms) {
      return `the peer read nothing for ${ms / 1000} s`;
    }
  }

  choke(): void {
    if (this.#choking) return;
    this.#choking = true;
    const dropped = this.#queue.drain();
    this.send(encodeMessage({ type: "choke" }));
    for (const r of dropped) this.#reject(r.index, r.begin, r.length);
  }

  #reject(index: number, begin: number, length: number): void {
    if (this.fast) this.send(encodeMessage({ type: "reject", index, begin, length }));
  }

  unchoke(): void {
    if (!this.#choking) return;
    this.#choking = false;
    this.send(encodeMessage({ type: "unchoke" }));
  }

  request(index: number, begin: number, length: number): void {
    // A malformed request ends the connection whether we choke the peer or not.
    if (index >= this.input.pieceCount || length === 0 || length > BLOCK_SIZE) {
      return this.fail(`request out of range (piece ${index}, ${length} bytes)`);
    }
    if (begin + length > pieceSize(this.input, index)) {
      return this.fail(`request past the end of piece ${index}`);
    }
    if (this.#choking) return this.#reject(index, begin, length);
    if (!this.input.ours.have.has(index)) return this.#reject(index, begin, length);
    if (this.#queue.length >= MAX_QUEUED_REQUESTS) {
      return this.fail(`more than ${MAX_QUEUED_REQUESTS} requests queued`);
    }
    this.#queue.push(index, begin, length);
    if (!this.#serving && !this.#scheduled) {
      this.#scheduled = true;
      queueMicrotask(this.#serveSoon);
    }
  }

  cancel(index: number, begin: number, length: number): void {
    this.#queue.remove(index, begin, length);
  }

  /**
   * Takes requests off the queue into `piece` frames, up to `BATCH_BYTES` (at least one), reading each block
   * into its frame; the frames' length, or 0 when only cancelled requests were left.
   */
  async #fill(frames: Uint8Array, view: DataView): Promise<number> {
    let at = 0, length;
    this.#payload = 0;
    while (
      (length = this.#queue.peekLength()) > 0 && (at === 0 || at + PIECE_HEADER + length <= BATCH_BYTES)
    ) {
      const index = this.#queue.headIndex, begin = this.#queue.headBegin;
      this.#queue.advance();
      view.setUint32(at, 9 + length);
      frames[at + 4] = 7; // piece
      view.setUint32(at + 5, index);
      view.setUint32(at + 9, begin);
      const offset = index * this.input.pieceLength + begin;
      const into = frames.subarray(at + PIECE_HEADER, at + PIECE_HEADER + length);
      if (this.input.readInto) this.input.readInto(offset, into);
      else into.set(await this.input.readBlock(offset, length));
      at += PIECE_HEADER + length;
      this.#payload += length;
    }
    return at;
  }

  /** Rejects the requests whose frames were built in `frames[0, end)` (we choked the peer meanwhile). */
  #rejectFrames(view: DataView, end: number): void {
    for (let at = 0; at < end; at += 4 + view.getUint32(at)) {
      this.#reject(view.getUint32(at + 5), view.getUint32(at + 9), view.getUint32(at) - 9);
    }
  }

  async #serve(): Promise<void> {
    if (this.#serving) return;
    this.#serving = true;
    try {
      while (!this.#choking && this.#queue.length > 0) {
        // One buffer per peer, reused: the last batch's write is done before the next one is built.
        this.#frames ??= framePool.take();
        this.#view ??= new DataView(this.#frames.buffer);
        const bytes = await this.#fill(this.#frames, this.#view);
        if (bytes === 0) break; // only cancelled ones were left
        if (this.#choking) {
          this.#rejectFrames(this.#view, bytes);
          break;
        }
        this.#sendingSince = Date.now();
        await this.send(this.#frames.subarray(0, bytes));
        this.#sendingSince = 0;
        this.uploaded += this.#payload;
        this.input.ours.uploaded += this.#payload;
      }
    } catch (e) {
      this.fail(`cannot serve a block: ${(e as Error).message}`);
    } finally {
      this.#serving = false;
      if (this.#released) this.release();
    }
  }

  /**
   * The connection is over: the frame buffer goes back to the pool, now or, when a write of it is still under
   * way, once that write is done. Nothing is served afterwards.
   */
  release(): void {
    this.#released = true;
    this.#choking = true;
    if (this.#serving || !this.#frames) return;
    framePool.give(this.#frames);
    this.#frames = this.#view = undefined;
  }
}
