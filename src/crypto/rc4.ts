/**
 * RC4, as Message Stream Encryption (MSE/PE) uses it: a key of 20 bytes, the first 1024 bytes of the keystream
 * thrown away, then the stream XORed over the data in place. Deno's `node:crypto` has no RC4, so it is here, as
 * one tight loop over a 256-byte state.
 *
 * @module
 */

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

  /** XORs the keystream over `data` in place; returns `data`. */
  apply(data: Uint8Array): Uint8Array {
    const s = this.#s;
    let i = this.#i, j = this.#j;
    for (let k = 0; k < data.length; k++) {
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
