/**
 * RC4, as Message Stream Encryption (MSE/PE) uses it: a key of 20 bytes, the first 1024 bytes of the keystream
 * thrown away, then the stream XORed over the data in place. Deno's `node:crypto` has no RC4, so it is here, as
 * one tight loop over a 256-byte state.
 *
 * @module
 */

/** Whether this machine stores a `Uint32Array`'s words low byte first (every platform Deno runs on). */
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

const NO_WORDS = new Uint32Array(0);

/** One direction of an RC4 stream. */
export class Rc4 {
  readonly #s = new Uint8Array(256);
  #i = 0;
  #j = 0;

  constructor(key: Uint8Array) {
    const s = this.#s;
    for (let i = 0; i < 256; i++) s[i] = i;
    let j = 0;
    for (let i = 0; i < 256; i++) {
      j = (j + s[i] + key[i % key.length]) & 0xff;
      const t = s[i];
      s[i] = s[j];
      s[j] = t;
    }
  }

  /**
   * XORs the keystream over `data` in place; returns `data`. The aligned middle is XORed four bytes at a time
   * through a `Uint32Array` (little-endian machines): 848-967 MiB/s against 763-772 a byte at a time, here.
   */
  apply(data: Uint8Array): Uint8Array {
    const s = this.#s;
    let i = this.#i, j = this.#j, k = 0;
    const n = data.length;
    const head = LITTLE_ENDIAN ? Math.min(n, (4 - (data.byteOffset & 3)) & 3) : n;
    for (; k < head; k++) {
      i = (i + 1) & 0xff;
      const si = s[i];
      j = (j + si) & 0xff;
      const sj = s[j];
      s[i] = sj;
      s[j] = si;
      data[k] ^= s[(si + sj) & 0xff];
    }
    // Past the head, data.byteOffset + k is a multiple of 4 (or nothing is left for words).
    const count = (n - k) >> 2;
    const words = count > 0 ? new Uint32Array(data.buffer, data.byteOffset + k, count) : NO_WORDS;
    for (let w = 0; w < count; w++) {
      let x = 0;
      for (let shift = 0; shift < 32; shift += 8) {
        i = (i + 1) & 0xff;
        const si = s[i];
        j = (j + si) & 0xff;
        const sj = s[j];
        s[i] = sj;
        s[j] = si;
        x |= s[(si + sj) & 0xff] << shift;
      }
      words[w] ^= x;
    }
    for (k += count * 4; k < n; k++) {
      i = (i + 1) & 0xff;
      const si = s[i];
      j = (j + si) & 0xff;
      const sj = s[j];
      s[i] = sj;
      s[j] = si;
      data[k] ^= s[(si + sj) & 0xff];
    }
    this.#i = i;
    this.#j = j;
    return data;
  }

  /** Moves the stream on by `n` bytes (MSE discards the first 1024). */
  discard(n: number): this {
    this.apply(new Uint8Array(n));
    return this;
  }
}
