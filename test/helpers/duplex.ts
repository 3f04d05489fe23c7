/** Two ends of an in-memory byte stream, for handshakes tested without sockets; each end records what it sent. */

import type { ByteStream } from "../../src/common/byte_stream.ts";

class Pipe {
  chunks: Uint8Array[] = [];
  closed = false;
  waiter?: () => void;
  push(b: Uint8Array) {
    this.chunks.push(b.slice());
    this.waiter?.();
  }
  close() {
    this.closed = true;
    this.waiter?.();
  }
}

export interface End extends ByteStream {
  /** Every byte this end wrote, in order. */
  sent: Uint8Array[];
}

/** Closing an end is a TCP close: the other end reads the end of the stream; its writes are dropped. */
function end(inbox: Pipe, outbox: Pipe): End {
  const sent: Uint8Array[] = [];
  let closed = false;
  return {
    sent,
    async read(into) {
      while (inbox.chunks.length === 0) {
        if (inbox.closed || closed) return null;
        await new Promise<void>((r) => inbox.waiter = r);
      }
      const head = inbox.chunks[0];
      const n = Math.min(into.length, head.length);
      into.set(head.subarray(0, n));
      if (n === head.length) inbox.chunks.shift();
      else inbox.chunks[0] = head.subarray(n);
      return n;
    },
    write(bytes) {
      if (closed) return Promise.reject(new Error("closed"));
      sent.push(bytes.slice());
      outbox.push(bytes);
      return Promise.resolve(bytes.length);
    },
    close() {
      closed = true;
      outbox.close();
      inbox.waiter?.();
    },
  };
}

/** A connected pair: what `a` writes, `b` reads, and the other way round. */
export function duplex(): [End, End] {
  const ab = new Pipe(), ba = new Pipe();
  return [end(ba, ab), end(ab, ba)];
}
