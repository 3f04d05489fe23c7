/**
 * Splits a peer's byte stream into frames over one receive buffer: the socket reads straight into its free space,
 * frames are handed out as views, and the unread tail is moved to the front only when space runs low. No
 * per-chunk concatenation (measured here: 0.7 GB/s concatenating vs 1.7-3 GB/s like this). A small buffer starts
 * at 4 KiB, enough for handshakes, and takes its full size the first time a read fills half of it: a connection
 * that never sends anything (a flood of them) holds 4 KiB, not 256 KiB. Full-size buffers come from a small
 * pool and go back to it on `release()`, for the next connection.
 *
 * @module
 */

import { BufferPool } from "../common/buffer_pool.ts";

/** Spare receive buffers, by size (one size per frame limit in use; a few of each kept). */
const pools = new Map<number, BufferPool>();

/** Frames a byte stream of `<length:u32><payload>` messages. */
export class FrameReader {
  #buf: Uint8Array;
  #view: DataView;
  readonly #full: number;
  #start = 0;
  #end = 0;

  /**
   * `maxFrame` bounds a frame's payload; a longer length prefix is a protocol error. `small` starts the buffer at
   * 4 KiB (for connections that peers opened to us: a flood of silent ones must cost little).
   */
  constructor(readonly maxFrame: number, small = false) {
    this.#full = Math.max(2 * (maxFrame + 4), 256 * 1024);
    this.#buf = small ? new Uint8Array(4096) : this.#pool().take();
    this.#view = new DataView(this.#buf.buffer);
  }

  /** Bytes received and not yet taken. */
  get buffered(): number {
    return this.#end - this.#start;
  }

  /** The free space to read into; call `filled(n)` after writing `n` bytes there. Invalidates earlier views. */
  space(): Uint8Array {
    if (this.#start === this.#end) {
      this.#start = this.#end = 0;
    } else if (this.#buf.length - this.#end < Math.min(64 * 1024, this.#buf.length / 2) && this.#start > 0) {
      this.#buf.copyWithin(0, this.#start, this.#end);
      this.#end -= this.#start;
      this.#start = 0;
    }
    // Less than half free after compacting: the peer sends more than handshakes; take the full size.
    if (this.#buf.length < this.#full && this.#buf.length - this.#end < this.#buf.length / 2) {
      const bigger = this.#pool().take();
      bigger.set(this.#buf.subarray(this.#start, this.#end));
      this.#end -= this.#start;
      this.#start = 0;
      this.#buf = bigger;
      this.#view = new DataView(bigger.buffer);
    }
    return this.#buf.subarray(this.#end);
  }

  #pool(): BufferPool {
    let pool = pools.get(this.#full);
    if (!pool) pools.set(this.#full, pool = new BufferPool(this.#full, 16));
    return pool;
  }

  /**
   * Gives the buffer back for another connection to use: call it when no read into `space()` is pending and no
   * frame is in use any more. The reader holds nothing afterwards.
   */
  release(): void {
    if (this.#buf.length === this.#full) this.#pool().give(this.#buf);
    this.#buf = new Uint8Array(0);
    this.#view = new DataView(this.#buf.buffer);
    this.#start = this.#end = 0;
  }

  /** Records that `n` bytes were written into the last `space()`. */
  filled(n: number): void {
    this.#end += n;
  }

  /** Takes exactly `n` raw bytes (a handshake) when that many are buffered, else null. */
  take(n: number): Uint8Array | null {
    if (this.#end - this.#start < n) return null;
    const out = this.#buf.subarray(this.#start, this.#start + n);
    this.#start += n;
    return out;
  }

  /**
   * The next complete frame's payload (empty for a keep-alive) as a view valid until the next `space()`, or null
   * when more bytes are needed. Throws RangeError when a length prefix exceeds `maxFrame`.
   */
  next(): Uint8Array | null {
    const available = this.#end - this.#start;
    if (available < 4) return null;
    const length = this.#view.getUint32(this.#start);
    if (length > this.maxFrame) {
      throw new RangeError(`frame of ${length} bytes exceeds the ${this.maxFrame} limit`);
    }
    if (available < 4 + length) return null;
    const payload = this.#buf.subarray(this.#start + 4, this.#start + 4 + length);
    this.#start += 4 + length;
    return payload;
  }
}
