/**
 * The downloading half of a peer link: the pieces assigned to this peer, their blocks requested in order up to the
 * pipeline's depth, and each block copied once from the receive buffer into its piece's buffer, or, for a large
 * piece this peer holds the write grant of, into a 256 KiB chunk that is hashed and handed to the `PieceWriter`
 * once it and the chunks before it are complete. No network I/O: the link sends the request and cancel frames
 * this returns, and hands it the blocks that arrive.
 *
 * @module
 */

import { createHash, type Hash } from "node:crypto";
import { BLOCK_SIZE, blockCount, blockLength } from "../wire/blocks.ts";
import { concat } from "../common/bytes.ts";
import { type BufferPool, poolFor } from "../pieces/buffer_pool.ts";
import { pieceSize } from "../metainfo/metainfo.ts";
import type { WholePiece } from "../pieces/scheduler.ts";
import type { PieceWriter } from "../pieces/piece_writers.ts";
import { encodeMessage, REQUEST_FRAME_LENGTH, writeRequest } from "../wire/wire.ts";

/** A streamed piece is assembled, hashed and written in chunks of this size (16 blocks). */
export const CHUNK = 256 * 1024;

/** A piece on its way to disk: chunks are hashed and written in order; later ones wait for the earlier. */
interface Stream {
  hash: Hash;
  /** The next chunk to hash and write. */
  next: number;
  /** Chunks being received (or complete and waiting for an earlier one), with their blocks still missing. */
  chunks: Map<number, { buf: Uint8Array; missing: number }>;
  /** The grant was revoked (another copy was taken, or the piece was taken back) or the disk failed. */
  lost: boolean;
}

/** One piece being fetched. Jobs are recycled: with 16 KiB pieces thousands a second would otherwise live just long
 * enough to be promoted out of V8's young generation, and the old generation would grow with them. */
interface Job {
  index: number;
  length: number;
  /** The piece's buffer, taken when its first block arrives: a piece only requested holds no memory. */
  data?: Uint8Array;
  /** Instead of `data`, for a piece written as it arrives. */
  stream?: Stream;
  blocks: number;
  nextBlock: number;
  /** One flag per block; may be longer than `blocks` (a recycled job). */
  received: Uint8Array;
  remaining: number;
  /** Blocks the peer rejected (fast extension), to ask once more after the others; made on the first reject. */
  retry?: number[];
  rejected?: Set<number>;
}

/**
 * Requests outstanding when a peer starts sending, and the fewest kept outstanding afterwards (4 MiB). Real
 * seeders need more than the round trip suggests even on loopback: with 64 the bench's 1 GiB took 4.4-4.5 s
 * (a) and 5.2-5.7 s (4 MiB pieces, b), with 256 3.8-4.1 s and 4.2-4.3 s.
 */
export const START_DEPTH = 256;
/** The deepest a pipeline gets unless a link is given another bound: 512 blocks, 8 MiB. */
export const MAX_DEPTH = 512;
/** Pieces a peer holds to keep `depth` blocks requested: enough for them, and one to start while the last finish. */
export function piecesFor(depth: number, pieceLength: number): number {
  return Math.ceil((depth * BLOCK_SIZE) / pieceLength) + 1;
}

/** The pipeline's depth is recomputed from the rate measured over a round trip, or this long when that is shorter. */
const ADAPT_MS = 20;
/** How long a shortest round trip stands before a newer window's replaces it. */
const RTT_WINDOW_MS = 10_000;
/** The round trip assumed until one is measured. */
const DEFAULT_RTT_MS = 100;

export class PieceDownloads {
  #jobs = new Map<number, Job>();
  #order: Job[] = [];
  #spare: Job[] = [];
  /** Block requests sent and not yet answered. */
  outstanding = 0;
  /** When the last block arrived (or the pipeline last started from empty). */
  lastBlock: number;
  /** Payload bytes of blocks received. */
  downloaded = 0;
  /**
   * Requests kept outstanding now: twice the bandwidth-delay product, the measured rate times the round trip, in
   * blocks, between `START_DEPTH` and `cap`. While the pipeline is what limits the rate, each measurement doubles
   * it (slow start); on loopback it stays at `START_DEPTH`, 100 ms away it reaches about 450 blocks at 35 MB/s.
   * Pieces are held for these blocks only, so memory follows the link, not a fixed allowance.
   */
  depth: number;
  /** The deepest the pipeline may get: our bound, or less when the peer said its queue is shorter (`reqq`). */
  cap: number;
  /**
   * The round trip in ms: the shortest time from a request to its block over the last 10 s (queueing at the peer
   * only lengthens that time, so the shortest is the closest to the path's own).
   */
  rttMs = Infinity;
  /** Request batches on the wire, oldest first: when each was sent and how many of its blocks are still due. */
  #sentAt: number[] = [];
  #sentCount: number[] = [];
  #sentHead = 0;
  #rttWindow = { start: 0, min: Infinity };
  /** Payload bytes per second over the last measurement (a round trip, at least 20 ms). */
  rate = 0;
  /** The last measurement found the pipeline shallower than twice the bandwidth-delay product. */
  #limited = false;
  /** How deep slow start may go before the next measurement: twice the last one's target. */
  #ceiling = Infinity;
  #rateAt: number;
  #rateBytes = 0;

  readonly #pool: BufferPool;
  readonly #chunks = poolFor(CHUNK);

  constructor(
    readonly torrent: { pieceLength: number; pieceCount: number; totalLength: number },
    readonly maxRequests: number,
    readonly now: () => number = Date.now,
    /** Where the pieces this peer holds the write grant of go as they arrive; without it all are assembled. */
    readonly writer?: PieceWriter,
  ) {
    this.#pool = poolFor(torrent.pieceLength);
    this.cap = maxRequests;
    this.depth = Math.min(START_DEPTH, maxRequests);
    this.lastBlock = this.#rateAt = now();
  }

  /** Pieces this peer should hold to keep its pipeline full: room for it to double while it is growing. */
  get wantedPieces(): number {
    return piecesFor(
      this.#limited ? Math.min(this.cap, 2 * this.depth) : this.depth,
      this.torrent.pieceLength,
    );
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
    let job = this.#spare.pop();
    if (job && job.received.length >= blocks) {
      job.index = index;
      job.length = length;
      job.data = job.stream = undefined;
      job.blocks = job.remaining = blocks;
      job.nextBlock = 0;
      job.received.fill(0, 0, blocks);
      job.retry = job.rejected = undefined;
    } else {
      job = { index, length, blocks, nextBlock: 0, received: new Uint8Array(blocks), remaining: blocks };
    }
    this.#jobs.set(index, job);
    this.#order.push(job);
  }

  /**
   * A block arrived: copies it into its piece (or its piece's chunk on the way to disk). Returns the piece when
   * this block completed it. A block we did not ask for (unknown piece, unaligned, not yet requested, a duplicate,
   * the wrong length) is ignored.
   */
  block(index: number, begin: number, block: Uint8Array): WholePiece | undefined {
    const job = this.#jobs.get(index);
    if (!job || begin % BLOCK_SIZE !== 0) return;
    const b = begin / BLOCK_SIZE;
    if (
      b >= job.nextBlock || job.received[b] || job.retry?.includes(b) ||
      block.length !== blockLength(job.length, b)
    ) return;
    if (!job.data && !job.stream && this.writer?.claim(index)) {
      job.stream = { hash: createHash("sha1"), next: 0, chunks: new Map(), lost: false };
    }
    if (job.stream) {
      this.#streamBlock(job, job.stream, begin, block);
    } else {
      job.data ??= job.length === this.#pool.size ? this.#pool.take() : new Uint8Array(job.length);
      job.data.set(block, begin);
    }
    job.received[b] = 1;
    job.remaining--;
    this.outstanding--;
    this.downloaded += block.length;
    // Slow start between measurements: while the pipeline limits the rate and stays full, each block deepens it.
    if (
      this.#limited && this.depth < this.#ceiling &&
      this.outstanding >= this.depth - Math.ceil(this.depth / 4) - 1
    ) {
      this.depth++;
    }
    const now = this.lastBlock = this.now();
    const firstBack = this.rttMs === Infinity;
    this.#sampleRtt(now);
    if (firstBack) {
      // The rate is measured from the first block on: the round trip before it carried nothing.
      this.#rateAt = now;
      this.#rateBytes = this.downloaded;
    }
    if (now - this.#rateAt >= Math.max(ADAPT_MS, this.rttMs === Infinity ? 0 : this.rttMs)) this.#adapt(now);
    if (job.remaining > 0) return;
    this.#remove(job);
    const { data, stream } = job;
    job.data = job.stream = undefined;
    this.#spare.push(job);
    if (data) return { index, data };
    // A lost piece is not reported: whoever took it back has already moved on.
    if (stream && !stream.lost) return { index, digest: new Uint8Array(stream.hash.digest()) };
  }

  /** Copies a block into its chunk; hashes and writes every chunk now complete in order. */
  #streamBlock(job: Job, s: Stream, begin: number, block: Uint8Array): void {
    const k = Math.floor(begin / CHUNK);
    let chunk = s.chunks.get(k);
    if (!chunk) {
      chunk = { buf: this.#chunks.take(), missing: blockCount(Math.min(CHUNK, job.length - k * CHUNK)) };
      s.chunks.set(k, chunk);
    }
    chunk.buf.set(block, begin - k * CHUNK);
    chunk.missing--;
    while ((chunk = s.chunks.get(s.next)) && chunk.missing === 0) {
      const bytes = chunk.buf.subarray(0, Math.min(CHUNK, job.length - s.next * CHUNK));
      if (!s.lost) {
        s.hash.update(bytes);
        s.lost = !this.writer!.put(job.index, s.next * CHUNK, bytes);
      }
      s.chunks.delete(s.next);
      this.#chunks.give(chunk.buf);
      s.next++;
    }
  }

  /** Forgets piece `index` (another peer delivered it); returns cancel frames for its blocks still on the wire. */
  cancel(index: number): Uint8Array | undefined {
    const job = this.#jobs.get(index);
    if (!job) return;
    this.#remove(job);
    this.#release(job);
    const cancels: Uint8Array[] = [];
    for (let b = 0; b < job.nextBlock; b++) {
      if (job.received[b] || job.retry?.includes(b)) continue;
      this.outstanding--;
      cancels.push(
        encodeMessage({
          type: "cancel",
          index,
          begin: b * BLOCK_SIZE,
          length: blockLength(job.length, b),
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
    if (length !== blockLength(job.length, b)) return true;
    if (job.rejected?.has(b)) return false;
    (job.rejected ??= new Set()).add(b);
    (job.retry ??= []).push(b);
    this.outstanding--;
    return true;
  }

  /** Forgets every piece (the peer choked us: its pending requests are void). */
  drop(): void {
    for (const job of this.#jobs.values()) this.#release(job);
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
          blockLength(job.length, b),
        );
        n++;
      }
      if (n === room) break;
    }
    if (n === 0) return;
    this.outstanding += n;
    const now = this.now();
    if (this.outstanding === n) {
      // Into an empty pipeline: what is left of older batches was cancelled or rejected.
      this.#sentAt.length = this.#sentCount.length = this.#sentHead = 0;
      this.lastBlock = this.#rateAt = now;
      this.#rateBytes = this.downloaded;
    }
    this.#sentAt.push(now);
    this.#sentCount.push(n);
    return batch.subarray(0, n * REQUEST_FRAME_LENGTH);
  }

  /**
   * Takes one block's time on the wire as a sample: blocks come back in the order they were asked for. A cancelled
   * or rejected request makes later blocks look older, never younger, so the shortest sample stays honest.
   */
  #sampleRtt(now: number): void {
    if (this.#sentHead >= this.#sentAt.length) return;
    const sample = Math.max(1, now - this.#sentAt[this.#sentHead]);
    if (--this.#sentCount[this.#sentHead] === 0 && ++this.#sentHead > 64) {
      this.#sentAt.splice(0, this.#sentHead);
      this.#sentCount.splice(0, this.#sentHead);
      this.#sentHead = 0;
    }
    const w = this.#rttWindow;
    if (now - w.start > RTT_WINDOW_MS) {
      // A new window: the last one's shortest becomes the estimate, so a path that got longer is noticed.
      if (w.min !== Infinity) this.rttMs = w.min;
      w.start = now;
      w.min = Infinity;
    }
    w.min = Math.min(w.min, sample);
    this.rttMs = Math.min(this.rttMs, sample);
  }

  /**
   * Recomputes the rate and, from it and the round trip, the pipeline's depth: at once when the link could carry
   * more (a pipeline that limits the rate doubles, and grows by a block per block until the next measurement), an
   * eighth at a time when it carries less.
   */
  #adapt(now: number): void {
    this.rate = ((this.downloaded - this.#rateBytes) * 1000) / (now - this.#rateAt);
    this.#rateAt = now;
    this.#rateBytes = this.downloaded;
    const rtt = Number.isFinite(this.rttMs) ? this.rttMs : DEFAULT_RTT_MS;
    const bdp = Math.ceil((2 * this.rate * rtt) / 1000 / BLOCK_SIZE);
    this.#limited = bdp > this.depth;
    this.#ceiling = Math.min(this.cap, 2 * bdp);
    const target = bdp >= this.depth ? bdp : Math.max(bdp, this.depth - Math.ceil(this.depth / 8));
    this.depth = Math.max(Math.min(START_DEPTH, this.cap), Math.min(this.cap, target));
  }

  /** True when requests are outstanding and no block came for `stallMs`. */
  stalled(now: number, stallMs: number): boolean {
    return this.outstanding > 0 && now - this.lastBlock > stallMs;
  }

  /** Recycles a job whose piece will not be completed here, and its buffers if a block had arrived. */
  #release(job: Job): void {
    if (job.data) this.#pool.give(job.data);
    for (const chunk of job.stream?.chunks.values() ?? []) this.#chunks.give(chunk.buf);
    job.data = job.stream = undefined;
    this.#spare.push(job);
  }

  #remove(job: Job): void {
    this.#jobs.delete(job.index);
    this.#order.splice(this.#order.indexOf(job), 1);
  }
}
