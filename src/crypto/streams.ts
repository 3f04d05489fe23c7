/**
 * The byte streams of an encrypted connection: a reader for the handshake (exact reads, a search for a sync
 * pattern, nothing read past what it is asked for stays lost), and the stream a peer connection runs over once
 * the handshake is done: RC4 each way, or plaintext, with the bytes read ahead during the handshake first.
 *
 * @module
 */

import { type ByteStream, writeAll } from "../common/byte_stream.ts";
import type { Rc4 } from "./rc4.ts";

/** Reads a handshake off a stream: exact lengths and sync patterns; what it read ahead is `rest()`. */
export class HandshakeReader {
  #buf: Uint8Array;
  #start = 0;
  #end = 0;

  constructor(readonly stream: ByteStream, first: Uint8Array = new Uint8Array(0)) {
    this.#buf = new Uint8Array(Math.max(2048, first.length));
    this.#buf.set(first);
    this.#end = first.length;
  }

  get buffered(): number {
    return this.#end - this.#start;
  }

  async #more(): Promise<void> {
    if (this.#start > 0) {
      this.#buf.copyWithin(0, this.#start, this.#end);
      this.#end -= this.#start;
      this.#start = 0;
    }
    if (this.#end === this.#buf.length) {
      const bigger = new Uint8Array(this.#buf.length * 2);
      bigger.set(this.#buf.subarray(0, this.#end));
      this.#buf = bigger;
    }
    const n = await this.stream.read(this.#buf.subarray(this.#end));
    if (n === null) throw new Error("peer closed the connection during the encryption handshake");
    this.#end += n;
  }

  /** The next `n` bytes (a copy). */
  async take(n: number): Promise<Uint8Array> {
    while (this.buffered < n) await this.#more();
    const out = this.#buf.slice(this.#start, this.#start + n);
    this.#start += n;
    return out;
  }

  /**
   * Skips to just past `pattern`, which must start within `maxSkip` bytes; throws `what` when it does not. Returns
   * how many bytes came before it.
   */
  async skipPast(pattern: Uint8Array, maxSkip: number, what: string): Promise<number> {
    for (let skip = 0; skip <= maxSkip; skip++) {
      while (this.buffered < skip + pattern.length) await this.#more();
      let k = 0;
      while (k < pattern.length && this.#buf[this.#start + skip + k] === pattern[k]) k++;
      if (k === pattern.length) {
        this.#start += skip + pattern.length;
        return skip;
      }
    }
    throw new Error(what);
  }

  /** Everything read and not yet taken. */
  rest(): Uint8Array {
    const out = this.#buf.slice(this.#start, this.#end);
    this.#start = this.#end;
    return out;
  }
}

/**
 * A stream after an MSE handshake: `ahead` (bytes already received, already decrypted) comes first; reads are
 * decrypted with `decrypt` and writes encrypted with `encrypt` (a copy: the caller's bytes are left alone), or
 * pass through untouched when they are null (the peer chose plaintext).
 */
export class CipherStream implements ByteStream {
  #ahead: Uint8Array;

  constructor(
    readonly inner: ByteStream,
    readonly decrypt: Rc4 | null,
    readonly encrypt: Rc4 | null,
    ahead: Uint8Array,
  ) {
    this.#ahead = ahead;
  }

  // Not async: a plaintext stream hands the socket's own promise on, one promise a read rather than two (a
  // download's every read passes here when the peer chose plaintext after the handshake, as most do).
  read(into: Uint8Array): Promise<number | null> {
    if (this.#ahead.length > 0) {
      const n = Math.min(into.length, this.#ahead.length);
      into.set(this.#ahead.subarray(0, n));
      this.#ahead = this.#ahead.subarray(n);
      return Promise.resolve(n);
    }
    const decrypt = this.decrypt;
    if (!decrypt) return this.inner.read(into);
    return this.inner.read(into).then((n) => {
      if (n !== null) decrypt.apply(into.subarray(0, n));
      return n;
    });
  }

  async write(bytes: Uint8Array): Promise<number> {
    if (!this.encrypt) return await this.inner.write(bytes);
    // The keystream moves on by all of them: so all of them must go out.
    await writeAll(this.inner, this.encrypt.apply(bytes.slice()));
    return bytes.length;
  }

  close(): void {
    this.inner.close();
  }

  /** Nagle off on the TCP connection underneath, when there is one. */
  setNoDelay(on: boolean): void {
    (this.inner as Partial<Deno.TcpConn>).setNoDelay?.(on);
  }
}
