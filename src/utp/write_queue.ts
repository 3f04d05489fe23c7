/**
 * Bytes written to a uTP connection that are not yet in a packet: each write waits here until the windows let
 * its last byte into one (that is the writer's back-pressure), then resolves.
 *
 * @module
 */

import { ByteQueue } from "./byte_queue.ts";

/** Writes waiting to be cut into packets. */
export class WriteQueue {
  #bytes = new ByteQueue();
  #waiters: { resolve: (n: number) => void; reject: (e: Error) => void }[] = [];

  /** Nothing waits. */
  get empty(): boolean {
    return this.#bytes.size === 0;
  }

  /** Queues `bytes`; resolves with their length once all are in packets, rejects when the queue is failed. */
  push(bytes: Uint8Array): Promise<number> {
    this.#bytes.push(bytes);
    return new Promise((resolve, reject) =>
      this.#waiters.push({ resolve: () => resolve(bytes.length), reject })
    );
  }

  /** Up to `max` bytes, copied out in order; writes whose bytes are all taken resolve. */
  take(max: number): Uint8Array {
    const out = new Uint8Array(Math.min(this.#bytes.size, max));
    this.#bytes.take(out, () => this.#waiters.shift()!.resolve(0));
    return out;
  }

  /** Drops what waits; the writers hear `reason`. */
  fail(reason: string): void {
    this.#bytes.clear();
    for (const waiter of this.#waiters.splice(0)) waiter.reject(new Error(reason));
  }
}
