/**
 * Bytes written to a uTP connection that are not yet in a packet: each write waits here until the windows let
 * its last byte into one (that is the writer's back-pressure), then resolves.
 *
 * @module
 */

/** Writes waiting to be cut into packets. */
export class WriteQueue {
  #chunks: Uint8Array[] = [];
  #at = 0;
  #waiters: { resolve: (n: number) => void; reject: (e: Error) => void }[] = [];

  /** Nothing waits. */
  get empty(): boolean {
    return this.#chunks.length === 0;
  }

  /** Queues `bytes`; resolves with their length once all are in packets, rejects when the queue is failed. */
  push(bytes: Uint8Array): Promise<number> {
    this.#chunks.push(bytes);
    return new Promise((resolve, reject) =>
      this.#waiters.push({ resolve: () => resolve(bytes.length), reject })
    );
  }

  /** Up to `max` bytes, copied out in order; writes whose bytes are all taken resolve. */
  take(max: number): Uint8Array {
    let size = 0;
    for (let i = 0; i < this.#chunks.length && size < max; i++) {
      size += i === 0 ? this.#chunks[0].length - this.#at : this.#chunks[i].length;
    }
    const out = new Uint8Array(Math.min(size, max));
    let n = 0;
    while (n < out.length) {
      const chunk = this.#chunks[0];
      const take = Math.min(chunk.length - this.#at, out.length - n);
      out.set(chunk.subarray(this.#at, this.#at + take), n);
      n += take;
      this.#at += take;
      if (this.#at === chunk.length) {
        this.#chunks.shift();
        this.#at = 0;
        this.#waiters.shift()!.resolve(0);
      }
    }
    return out;
  }

  /** Drops what waits; the writers hear `reason`. */
  fail(reason: string): void {
    this.#chunks = [];
    this.#at = 0;
    for (const waiter of this.#waiters.splice(0)) waiter.reject(new Error(reason));
  }
}
