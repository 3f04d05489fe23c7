/**
 * The receiving half of a uTP connection: packets that arrive out of order wait (within the window we advertise)
 * until the gap before them is filled; in-order payloads wait to be read; the FIN's sequence number marks the end.
 * `ack` is the last sequence number taken in order, what our acks carry.
 *
 * @module
 */

import { ByteQueue } from "./byte_queue.ts";
import { sackMask, seqAdd, seqDiff } from "./packet.ts";

/** What became of a packet given to `take`. */
export type Taken = "taken" | "duplicate" | "dropped";

/** Received bytes, in order, until read. */
export class Inbox {
  /** The last sequence number taken in order. */
  ack = 0;
  /** The peer's FIN was reached: after what is buffered, reads end. */
  finished = false;
  #eofSeq?: number;
  #reorder = new Map<number, Uint8Array>();
  #reorderBytes = 0;
  #readable = new ByteQueue();
  #reader?: { into: Uint8Array; resolve: (n: number | null) => void; reject: (e: Error) => void };
  /** Set once nobody reads any more: null to readers, or the error they get. */
  #end?: { error?: string };

  /**
   * `window`: the bytes we take in before they are read (the socket widens it on long paths); `slack`: one
   * packet more may wait out of order. `onRoom` hears when reading reopened a window that had closed.
   */
  constructor(public window: number, readonly slack: number, readonly onRoom: () => void) {}

  /** Bytes we can still take in: the window we advertise. */
  get free(): number {
    return Math.max(0, this.window - this.#readable.size - this.#reorderBytes);
  }

  /** Takes packet `seq` (a FIN when `fin`): in order it is readable, ahead of a gap it waits, behind it is a duplicate. */
  take(seq: number, payload: Uint8Array, fin: boolean): Taken {
    // A view into a larger receive buffer would keep all of it alive while the payload waits: keep a copy.
    if (payload.buffer.byteLength > 2 * payload.length) payload = payload.slice();
    if (fin) this.#eofSeq ??= seq;
    if (this.#eofSeq !== undefined && seqDiff(seq, this.#eofSeq) > 0) return "dropped"; // nothing after the FIN
    const ahead = seqDiff(seq, seqAdd(this.ack, 1));
    if (ahead < 0 || this.#reorder.has(seq)) return "duplicate";
    if (ahead > 0) {
      if (this.free + this.slack < payload.length) return "dropped"; // past the window we advertised
      this.#reorder.set(seq, payload);
      this.#reorderBytes += payload.length;
      return "taken";
    }
    this.#deliver(payload);
    this.ack = seq;
    for (let next = seqAdd(seq, 1); this.#reorder.has(next); next = seqAdd(next, 1)) {
      const waiting = this.#reorder.get(next)!;
      this.#reorder.delete(next);
      this.#reorderBytes -= waiting.length;
      this.#deliver(waiting);
      this.ack = next;
    }
    if (this.#eofSeq !== undefined && this.ack === this.#eofSeq) {
      this.finished = true;
      this.#wake();
    }
    return "taken";
  }

  /** The selective ack for what waits past the gap, if anything does. */
  sack(): Uint8Array | undefined {
    return this.#reorder.size > 0 ? sackMask(this.ack, (s) => this.#reorder.has(s), 0x7fff) : undefined;
  }

  #deliver(payload: Uint8Array): void {
    if (payload.length === 0 || this.#end) return;
    this.#readable.push(payload);
    this.#wake();
  }

  /** Reads what has arrived in order; null once the FIN was reached and all was read, or reading ended. */
  read(into: Uint8Array): Promise<number | null> {
    if (this.#readable.size > 0) return Promise.resolve(this.#copyOut(into));
    if (this.#end?.error) return Promise.reject(new Error(this.#end.error));
    if (this.finished || this.#end) return Promise.resolve(null);
    if (this.#reader) return Promise.reject(new Error("uTP: a read is already waiting"));
    return new Promise((resolve, reject) => this.#reader = { into, resolve, reject });
  }

  /** No more reading: what waits is dropped; a waiting read gets null, or `error`. */
  end(error?: string): void {
    this.#end ??= { error };
    this.#readable.clear();
    this.#reorder.clear();
    this.#reorderBytes = 0;
    this.#wake();
  }

  #wake(): void {
    const reader = this.#reader;
    if (!reader) return;
    if (this.#readable.size > 0) {
      this.#reader = undefined;
      reader.resolve(this.#copyOut(reader.into));
    } else if (this.finished || this.#end) {
      this.#reader = undefined;
      if (this.#end?.error) reader.reject(new Error(this.#end.error));
      else reader.resolve(null);
    }
  }

  #copyOut(into: Uint8Array): number {
    const wasShut = this.free < this.slack;
    const n = this.#readable.take(into);
    if (wasShut && this.free >= this.slack) this.onRoom();
    return n;
  }
}
