/** Chunks of bytes queued in order and taken out across chunk boundaries (what arrived, what was written). @module */

/** A queue of byte chunks. */
export class ByteQueue {
  /** Bytes queued. */
  size = 0;
  #chunks: Uint8Array[] = [];
  #at = 0;

  /** Queues `bytes` (kept, not copied). */
  push(bytes: Uint8Array): void {
    this.#chunks.push(bytes);
    this.size += bytes.length;
  }

  /** Copies the first bytes into `into` (as many as fit); `chunkDone` hears each chunk taken to its end. */
  take(into: Uint8Array, chunkDone?: () => void): number {
    let n = 0;
    while (n < into.length && this.#chunks.length > 0) {
      const chunk = this.#chunks[0];
      const take = Math.min(chunk.length - this.#at, into.length - n);
      into.set(chunk.subarray(this.#at, this.#at + take), n);
      n += take;
      this.#at += take;
      if (this.#at === chunk.length) {
        this.#chunks.shift();
        this.#at = 0;
        chunkDone?.();
      }
    }
    this.size -= n;
    return n;
  }

  /** Drops everything. */
  clear(): void {
    this.#chunks = [];
    this.#at = 0;
    this.size = 0;
  }
}
