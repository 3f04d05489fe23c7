/**
 * Large buffers, recycled. A download of 1 GiB in 256 KiB pieces would otherwise allocate (and zero, and later
 * collect) 4,096 piece buffers; a seeder that a leecher after leecher connects to, two buffers of 256 KiB per
 * connection (receiving, sending), which the collector frees late: 300 downloads in a row took its memory from 64
 * to 105 MiB, with the JavaScript heap flat. A piece buffer is taken when the first block of a piece arrives (a
 * piece only requested holds none) and given back once the piece is written, found corrupt, or abandoned; a
 * connection's, when the connection is done with it. One that is never given back is simply collected. Nothing is
 * zeroed on reuse: whoever takes a buffer writes before it reads.
 *
 * @module
 */

export class BufferPool {
  #free: Uint8Array[] = [];

  constructor(readonly size: number, readonly max = 256) {}

  /** A buffer of `size` bytes, recycled when one is free. */
  take(): Uint8Array {
    return this.#free.pop() ?? new Uint8Array(this.size);
  }

  /** Gives a buffer back; one of another size (a short last piece) or beyond `max` is left to the collector. */
  give(buf: Uint8Array): void {
    if (buf.byteLength === this.size && buf.byteOffset === 0 && buf.buffer.byteLength === this.size) {
      if (this.#free.length < this.max) this.#free.push(buf);
    }
  }

  /** Buffers waiting to be reused. */
  get free(): number {
    return this.#free.length;
  }
}

const pools = new Map<number, BufferPool>();

/** The process's pool for buffers of `size` bytes (one per piece size, shared by every torrent). */
export function poolFor(size: number): BufferPool {
  let pool = pools.get(size);
  // At most 64 MiB of spare buffers per size (the coordinator's budget keeps fewer than that in use).
  if (!pool) pools.set(size, pool = new BufferPool(size, Math.max(4, Math.floor((64 << 20) / size))));
  return pool;
}
