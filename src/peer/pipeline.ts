/**
 * How many block requests one peer link keeps outstanding: the pipeline's depth follows the rate the link carries
 * and its round trip (twice the bandwidth-delay product), between `START_DEPTH` and a cap. Plain arithmetic over a
 * clock it is given, so tests drive it on a fake one; `PieceDownloads` tells it what was sent and what arrived.
 *
 * @module
 */

import { BLOCK_SIZE } from "../wire/blocks.ts";

/**
 * Requests outstanding when a peer starts sending, and the fewest kept outstanding afterwards (4 MiB). Real
 * seeders need more than the round trip suggests even on loopback: with 64 the bench's 1 GiB took 4.4-4.5 s
 * (a) and 5.2-5.7 s (4 MiB pieces, b), with 256 3.8-4.1 s and 4.2-4.3 s.
 */
export const START_DEPTH = 256;
/**
 * The deepest a pipeline gets unless a link is given another bound: 1,024 blocks, 16 MiB. Two seeders 100 ms away
 * (bench d) filled it at 512: 256 MiB took 3.2-3.4 s, against 2.3 s at 1,024 (with the coordinator's budget for
 * two peers, 32 MiB) and libtorrent's 2.5 s.
 */
export const MAX_DEPTH = 1024;

/**
 * The most pieces one link holds at once: 513, 8 MiB of 16 KiB pieces. A link looks its pieces up by scanning
 * them, and with 16 KiB pieces a pipeline of 1,024 blocks held 1,025: bench c took 12% longer.
 */
export const MOST_PIECES = 513;

/** The deepest pipeline for pieces of `pieceLength`: `MAX_DEPTH`, or the blocks of `MOST_PIECES` pieces if fewer. */
export function maxDepthFor(pieceLength: number): number {
  return Math.min(MAX_DEPTH, MOST_PIECES * Math.ceil(pieceLength / BLOCK_SIZE));
}

/** Pieces a peer holds to keep `depth` blocks requested: enough for them, and one to start while the last finish. */
export function piecesFor(depth: number, pieceLength: number): number {
  return Math.ceil((depth * BLOCK_SIZE) / pieceLength) + 1;
}

/** The most pieces of `pieceLength` a link is given: enough for the deepest pipeline, 2 to `MOST_PIECES`. */
export function mostPiecesFor(pieceLength: number): number {
  return Math.max(2, Math.min(MOST_PIECES, piecesFor(MAX_DEPTH, pieceLength)));
}

/** The depth is recomputed from the rate measured over a round trip, or this long when that is shorter. */
const ADAPT_MS = 20;
/** How long a shortest round trip stands before a newer window's replaces it. */
const RTT_WINDOW_MS = 10_000;
/** The round trip assumed until one is measured. */
const DEFAULT_RTT_MS = 100;

/** One link's request pipeline: depth, round trip and rate. */
export class Pipeline {
  /** Block requests sent and not yet answered. */
  outstanding = 0;
  /** Payload bytes of blocks received. */
  received = 0;
  /** When the last block arrived (or the pipeline last started from empty). */
  lastBlock: number;
  /**
   * Requests kept outstanding now: twice the bandwidth-delay product, the measured rate times the round trip, in
   * blocks, between `START_DEPTH` and `cap`. While the pipeline is what limits the rate, each measurement doubles
   * it (slow start); on loopback it stays at `START_DEPTH`, 100 ms away it reaches about 450 blocks at 35 MB/s.
   */
  depth: number;
  /** The deepest the pipeline may get: our bound, or less when the peer said its queue is shorter (`reqq`). */
  cap: number;
  /**
   * The round trip in ms: the shortest time from a request to its block over the last 10 s (queueing at the peer
   * only lengthens that time, so the shortest is the closest to the path's own).
   */
  rttMs = Infinity;
  /** Payload bytes per second over the last measurement (a round trip, at least 20 ms). */
  rate = 0;
  /** Request batches on the wire, oldest first: when each was sent and how many of its blocks are still due. */
  #sentAt: number[] = [];
  #sentCount: number[] = [];
  #sentHead = 0;
  #rttWindow = { start: 0, min: Infinity };
  /** The last measurement found the pipeline shallower than twice the bandwidth-delay product. */
  #limited = false;
  /** How deep slow start may go before the next measurement: twice the last one's target. */
  #ceiling = Infinity;
  #rateAt: number;
  #rateBytes = 0;

  /** A pipeline at most `maxRequests` deep, timed by `now`. */
  constructor(readonly maxRequests: number, readonly now: () => number = Date.now) {
    this.cap = maxRequests;
    this.depth = Math.min(START_DEPTH, maxRequests);
    this.lastBlock = this.#rateAt = now();
  }

  /** The depth to hold pieces for: room for the pipeline to double while it is growing. */
  get wanted(): number {
    return this.#limited ? Math.min(this.cap, 2 * this.depth) : this.depth;
  }

  /** The peer's `reqq`: it queues no more than this many of our requests. */
  limit(reqq: number): void {
    this.cap = Math.max(1, Math.min(this.maxRequests, reqq));
    this.depth = Math.min(this.depth, this.cap);
  }

  /**
   * How many requests to send now: the room left, or 0 when that is less than a quarter of the pipeline (and
   * requests are still outstanding), so refills go out in batches, not one per block received.
   */
  room(): number {
    const room = this.depth - this.outstanding;
    return room <= 0 || (this.outstanding > 0 && room < Math.ceil(this.depth / 4)) ? 0 : room;
  }

  /** `n` requests went out in one batch. */
  sent(n: number): void {
    this.outstanding += n;
    const now = this.now();
    if (this.outstanding === n) {
      // Into an empty pipeline: what is left of older batches was cancelled or rejected.
      this.#sentAt.length = this.#sentCount.length = this.#sentHead = 0;
      this.lastBlock = this.#rateAt = now;
      this.#rateBytes = this.received;
    }
    this.#sentAt.push(now);
    this.#sentCount.push(n);
  }

  /** A requested block of `bytes` arrived. */
  block(bytes: number): void {
    this.outstanding--;
    this.received += bytes;
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
      this.#rateBytes = this.received;
    }
    if (now - this.#rateAt >= Math.max(ADAPT_MS, this.rttMs === Infinity ? 0 : this.rttMs)) this.#adapt(now);
  }

  /** `n` requests will not be answered (cancelled by us, or rejected by the peer). */
  forget(n = 1): void {
    this.outstanding -= n;
  }

  /** The peer choked us: no request is outstanding any more. */
  clear(): void {
    this.outstanding = 0;
  }

  /** True when requests are outstanding and no block came for `stallMs`. */
  stalled(now: number, stallMs: number): boolean {
    return this.outstanding > 0 && now - this.lastBlock > stallMs;
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
   * Recomputes the rate and, from it and the round trip, the depth: at once when the link could carry more (a
   * pipeline that limits the rate doubles, and grows by a block per block until the next measurement), an eighth
   * at a time when it carries less.
   */
  #adapt(now: number): void {
    this.rate = ((this.received - this.#rateBytes) * 1000) / (now - this.#rateAt);
    this.#rateAt = now;
    this.#rateBytes = this.received;
    const rtt = Number.isFinite(this.rttMs) ? this.rttMs : DEFAULT_RTT_MS;
    const bdp = Math.ceil((2 * this.rate * rtt) / 1000 / BLOCK_SIZE);
    this.#limited = bdp > this.depth;
    this.#ceiling = Math.min(this.cap, 2 * bdp);
    const target = bdp >= this.depth ? bdp : Math.max(bdp, this.depth - Math.ceil(this.depth / 8));
    this.depth = Math.max(Math.min(START_DEPTH, this.cap), Math.min(this.cap, target));
  }
}
