/**
 * The downloading half of a peer link: the pieces assigned to this peer, their blocks requested in order up to the
 * depth its `Pipeline` allows, and each block copied once from the receive buffer into its piece's buffer, or, for a large
 * piece this peer holds the write grant of, into a 256 KiB chunk that is hashed and handed to the `PieceWriter`
 * once it and the chunks before it are complete. No network I/O: the link sends the request and cancel frames
 * this returns, and hands it the blocks that arrive.
 *
 * @module
 */

import type { Hash } from "node:crypto";
import { BLOCK_SIZE, blockCount, blockLength } from "../wire/blocks.ts";
import { concat, newSha1 } from "../common/bytes.ts";
import { type BufferPool, poolFor } from "../common/buffer_pool.ts";
import { pieceSize } from "../metainfo/metainfo.ts";
import type { WholePiece } from "../pieces/scheduler.ts";
import type { PieceWriter } from "../pieces/piece_writers.ts";
import { encodeMessage, REQUEST_FRAME_LENGTH, writeRequest } from "../wire/wire.ts";
import { piecesFor, Pipeline } from "./pipeline.ts";

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

/** The pieces assigned to one peer, their blocks requested through a `Pipeline` and assembled or streamed. */
export class PieceDownloads {
  /**
   * The pieces assigned, in the order their blocks are requested. Looked up by scanning from the front (a block
   * almost always belongs to one of the first): a map by index churned its tables at every piece, and the tables
   * lived long enough to be promoted out of V8's young generation.
   */
  #order: Job[] = [];
  #spare: Job[] = [];
  /** How many requests to keep outstanding, from the link's rate and round trip. */
  readonly pipeline: Pipeline;

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
    this.pipeline = new Pipeline(maxRequests, now);
  }

  /** Pieces this peer should hold to keep its pipeline full: room for it to double while it is growing. */
  get wantedPieces(): number {
    return piecesFor(this.pipeline.wanted, this.torrent.pieceLength);
  }

  /** Pieces assigned and not yet complete. */
  get pieces(): number {
    return this.#order.length;
  }

  /** Takes piece `index` on (a second assignment of the same piece is ignored). */
  add(index: number): void {
    if (this.#find(index)) return;
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
    this.#order.push(job);
  }

  /**
   * A block arrived: copies it into its piece (or its piece's chunk on the way to disk). Returns the piece when
   * this block completed it. A block we did not ask for (unknown piece, unaligned, not yet requested, a duplicate,
   * the wrong length) is ignored.
   */
  block(index: number, begin: number, block: Uint8Array): WholePiece | undefined {
    const job = this.#find(index);
    if (!job || begin % BLOCK_SIZE !== 0) return;
    const b = begin / BLOCK_SIZE;
    if (
      b >= job.nextBlock || job.received[b] || job.retry?.includes(b) ||
      block.length !== blockLength(job.length, b)
    ) return;
    if (!job.data && !job.stream && this.writer?.claim(index)) {
      job.stream = { hash: newSha1(), next: 0, chunks: new Map(), lost: false };
    }
    if (job.stream) {
      this.#streamBlock(job, job.stream, begin, block);
    } else {
      job.data ??= job.length === this.#pool.size ? this.#pool.take() : new Uint8Array(job.length);
      job.data.set(block, begin);
    }
    job.received[b] = 1;
    job.remaining--;
    this.pipeline.block(block.length);
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
    const job = this.#find(index);
    if (!job) return;
    this.#remove(job);
    this.#release(job);
    const cancels: Uint8Array[] = [];
    for (let b = 0; b < job.nextBlock; b++) {
      if (job.received[b] || job.retry?.includes(b)) continue;
      this.pipeline.forget();
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
    const job = this.#find(index);
    if (!job || begin % BLOCK_SIZE !== 0) return true;
    const b = begin / BLOCK_SIZE;
    if (b >= job.nextBlock || job.received[b] || job.retry?.includes(b)) return true;
    if (length !== blockLength(job.length, b)) return true;
    if (job.rejected?.has(b)) return false;
    (job.rejected ??= new Set()).add(b);
    (job.retry ??= []).push(b);
    this.pipeline.forget();
    return true;
  }

  /** Forgets every piece (the peer choked us: its pending requests are void). */
  drop(): void {
    for (const job of this.#order) this.#release(job);
    this.#order.length = 0;
    this.pipeline.clear();
  }

  /**
   * As many request frames as the pipeline has room for, in piece order, batched for one write; or undefined when
   * the room is less than a quarter of the pipeline (and requests are still outstanding).
   */
  requests(): Uint8Array | undefined {
    const room = this.pipeline.room();
    if (room === 0) return;
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
    this.pipeline.sent(n);
    return batch.subarray(0, n * REQUEST_FRAME_LENGTH);
  }

  /** Recycles a job whose piece will not be completed here, and its buffers if a block had arrived. */
  #release(job: Job): void {
    if (job.data) this.#pool.give(job.data);
    for (const chunk of job.stream?.chunks.values() ?? []) this.#chunks.give(chunk.buf);
    job.data = job.stream = undefined;
    this.#spare.push(job);
  }

  #find(index: number): Job | undefined {
    const order = this.#order;
    for (let i = 0; i < order.length; i++) if (order[i].index === index) return order[i];
  }

  /** Takes `job` out of the order in place (`splice` would make an array of the removed one). */
  #remove(job: Job): void {
    const order = this.#order;
    const at = order.indexOf(job);
    if (at < 0) return;
    order.copyWithin(at, at + 1);
    order.length--;
  }
}
