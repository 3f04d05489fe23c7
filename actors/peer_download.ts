/**
 * The downloading half of a peer link: the pieces assigned to this peer, their blocks requested in order up to the
 * pipeline's depth, and each block copied once from the receive buffer into its piece's buffer. No I/O: the link
 * sends the request and cancel frames this returns, and hands it the blocks that arrive.
 *
 * @module
 */

import { BLOCK_SIZE, blockCount, blockLength } from "../src/blocks.ts";
import { concat } from "../src/bytes.ts";
import { type BufferPool, poolFor } from "../src/buffer_pool.ts";
import { pieceSize } from "../src/metainfo.ts";
import { encodeMessage, REQUEST_FRAME_LENGTH, writeRequest } from "../src/wire.ts";

/** One piece being fetched. Jobs are recycled: with 16 KiB pieces thousands a second would otherwise live just long
 * enough to be promoted out of V8's young generation, and the old generation would grow with them. */
interface Job {
  index: number;
  data: Uint8Array;
  blocks: number;
  nextBlock: number;
  /** One flag per block; may be longer than `blocks` (a recycled job). */
  received: Uint8Array;
  remaining: number;
  /** Blocks the peer rejected (fast extension), to ask once more after the others; made on the first reject. */
  retry?: number[];
  rejected?: Set<number>;
}

/** Requests outstanding when a peer starts sending. */
export const START_DEPTH = 64;

export class PieceDownloads {
  #jobs = new Map<number, Job>();
  #order: Job[] = [];
  #spare: Job[] = [];
  /** Block requests sent and not yet answered. */
  outstanding = 0;
  /** When the last block arrived (or the pipeline last started from empty). */
  lastBlock = Date.now();
  /** Payload bytes of blocks received. */
  downloaded = 0;
  /**
   * Requests kept outstanding now. It starts at `START_DEPTH` and grows by one for each block that arrives while
   * the pipeline is kept full (the peer keeps up), up to `cap`: on a link with a long round trip the pipeline
   * deepens until it covers it (512 blocks of 16 KiB cover 100 ms at 80 MB/s).
   */
  depth: number;
  /** The deepest the pipeline may get: our bound, or less when the peer said its queue is shorter (`reqq`). */
  cap: number;

  readonly #pool: BufferPool;

  constructor(
    readonly torrent: { pieceLength: number; pieceCount: number; totalLength: number },
    readonly maxRequests: number,
  ) {
    this.#pool = poolFor(torrent.pieceLength);
    this.cap = maxRequests;
    this.depth = Math.min(START_DEPTH, maxRequests);
  }

  /** The peer's `reqq`: it queues no more than this many of our requests. */
  limit(reqq: number): void {
    this.cap = Math.max(1, Math.min(this.maxRequests, reqq));
    this.depth = Math.min(this.depth, this.cap);
  }

  /** Pieces assigned and not yet complete. */
  get pieces(): number {
    return this.#jobs.size;
  }

  /** Takes piece `index` on (a second assignment of the same piece is ignored). */
  add(index: number): void {
    if (this.#jobs.has(index)) return;
    const length = pieceSize(this.torrent, index);
    const blocks = blockCount(length);
    const data = length === this.#pool.size ? this.#pool.take() : new Uint8Array(length);
    let job = this.#spare.pop();
    if (job && job.received.length >= blocks) {
      job.index = index;
      job.data = data;
      job.blocks = job.remaining = blocks;
      job.nextBlock = 0;
      job.received.fill(0, 0, blocks);
      job.retry = job.rejected = undefined;
    } else {
      job = { index, data, blocks, nextBlock: 0, received: new Uint8Array(blocks), remaining: blocks };
    }
    this.#jobs.set(index, job);
    this.#order.push(job);
  }

  /**
   * A block arrived: copies it into its piece. Returns the piece's bytes when this block completed it. A block we
   * did not ask for (unknown piece, unaligned, not yet requested, a duplicate, the wrong length) is ignored.
   */
  block(index: number, begin: number, block: Uint8Array): Uint8Array | undefined {
    const job = this.#jobs.get(index);
    if (!job || begin % BLOCK_SIZE !== 0) return;
    const b = begin / BLOCK_SIZE;
    if (
      b >= job.nextBlock || job.received[b] || job.retry?.includes(b) ||
      block.length !== blockLength(job.data.length, b)
    ) return;
    job.data.set(block, begin);
    job.received[b] = 1;
    job.remaining--;
    this.outstanding--;
    if (this.depth < this.cap && this.outstanding >= this.depth - Math.ceil(this.depth / 4) - 1) this.depth++;
    this.downloaded += block.length;
    this.lastBlock = Date.now();
    if (job.remaining > 0) return;
    this.#remove(job);
    this.#spare.push(job);
    return job.data;
  }

  /** Forgets piece `index` (another peer delivered it); returns cancel frames for its blocks still on the wire. */
  cancel(index: number): Uint8Array | undefined {
    const job = this.#jobs.get(index);
    if (!job) return;
    this.#remove(job);
    this.#pool.give(job.data);
    this.#spare.push(job);
    const cancels: Uint8Array[] = [];
    for (let b = 0; b < job.nextBlock; b++) {
      if (job.received[b] || job.retry?.includes(b)) continue;
      this.outstanding--;
      cancels.push(
        encodeMessage({
          type: "cancel",
          index,
          begin: b * BLOCK_SIZE,
          length: blockLength(job.data.length, b),
        }),
      );
    }
    return cancels.length > 0 ? concat(cancels) : undefined;
  }

  /**
   * The peer rejected a request (fast extension): the block is asked for once more, after the others. Returns false
   * when it was already rejected once: the peer will not serve it. A reject for nothing outstanding is ignored.
   */
  reject(index: number, begin: number, length: number): boolean {
    const job = this.#jobs.get(index);
    if (!job || begin % BLOCK_SIZE !== 0) return true;
    const b = begin / BLOCK_SIZE;
    if (b >= job.nextBlock || job.received[b] || job.retry?.includes(b)) return true;
    if (length !== blockLength(job.data.length, b)) return true;
    if (job.rejected?.has(b)) return false;
    (job.rejected ??= new Set()).add(b);
    (job.retry ??= []).push(b);
    this.outstanding--;
    return true;
  }

  /** Forgets every piece (the peer choked us: its pending requests are void). */
  drop(): void {
    for (const job of this.#jobs.values()) {
      this.#pool.give(job.data);
      this.#spare.push(job);
    }
    this.#jobs.clear();
    this.#order = [];
    this.outstanding = 0;
  }

  /**
   * As many request frames as the pipeline has room for, in piece order, batched for one write; or undefined when
   * the room is less than a quarter of the pipeline (and requests are still outstanding).
   */
  requests(): Uint8Array | undefined {
    const room = this.depth - this.outstanding;
    // Refill in batches of a quarter of the pipeline: one write of many requests, not one per block received.
    if (room <= 0 || (this.outstanding > 0 && room < Math.ceil(this.depth / 4))) return;
    const batch = new Uint8Array(room * REQUEST_FRAME_LENGTH);
    const view = new DataView(batch.buffer);
    let n = 0;
    for (const job of this.#order) {
      while (n < room && (job.nextBlock < job.blocks || (job.retry?.length ?? 0) > 0)) {
        const b = job.nextBlock < job.blocks ? job.nextBlock++ : job.retry!.shift()!;
        writeRequest(
          view,
          n * REQUEST_FRAME_LENGTH,
          job.index,
          b * BLOCK_SIZE,
          blockLength(job.data.length, b),
        );
        n++;
      }
      if (n === room) break;
    }
    if (n === 0) return;
    this.outstanding += n;
    if (this.outstanding === n) this.lastBlock = Date.now();
    return batch.subarray(0, n * REQUEST_FRAME_LENGTH);
  }

  /** True when requests are outstanding and no block came for `stallMs`. */
  stalled(now: number, stallMs: number): boolean {
    return this.outstanding > 0 && now - this.lastBlock > stallMs;
  }

  #remove(job: Job): void {
    this.#jobs.delete(job.index);
    this.#order.splice(this.#order.indexOf(job), 1);
  }
}
