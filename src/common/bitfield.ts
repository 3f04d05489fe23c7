/** A piece bitfield as it travels on the wire: high bit of byte 0 is piece 0. @module */

/** A fixed-size set of piece indices backed by wire-format bytes. */
export class Bitfield {
  /** The wire bytes: piece 0 is the high bit of byte 0; spare bits at the end stay zero. */
  readonly bytes: Uint8Array;
  #count = 0;

  /** A bitfield of `size` pieces, empty or read from wire `bytes` (a `RangeError` when their length is wrong). */
  constructor(readonly size: number, bytes?: Uint8Array) {
    this.bytes = new Uint8Array(Math.ceil(size / 8));
    if (bytes) {
      if (bytes.length !== this.bytes.length) {
        throw new RangeError(`bitfield of ${bytes.length} bytes for ${size} pieces`);
      }
      const spare = size % 8 === 0 ? 0 : bytes[bytes.length - 1] & (0xff >> (size % 8));
      if (spare !== 0) throw new RangeError("bitfield has spare bits set");
      this.bytes.set(bytes);
      for (let i = 0; i < size; i++) if (this.has(i)) this.#count++;
    }
  }

  /** Every piece (`all`) or none, as have-all and have-none say (BEP 6). */
  static filled(size: number, all: boolean): Bitfield {
    const b = new Bitfield(size);
    if (all) { for (let i = 0; i < size; i++) b.set(i); }
    return b;
  }

  /** True when piece `i` is in the set. */
  has(i: number): boolean {
    return (this.bytes[i >> 3] & (0x80 >> (i & 7))) !== 0;
  }

  /** Adds piece `i`; returns false when it was already there. Throws RangeError for an index out of range. */
  set(i: number): boolean {
    if (!Number.isInteger(i) || i < 0 || i >= this.size) {
      throw new RangeError(`piece index ${i} out of range`);
    }
    if (this.has(i)) return false;
    this.bytes[i >> 3] |= 0x80 >> (i & 7);
    this.#count++;
    return true;
  }

  /** Number of pieces in the set. */
  get count(): number {
    return this.#count;
  }

  /** True when every piece is in the set. */
  get complete(): boolean {
    return this.#count === this.size;
  }
}
