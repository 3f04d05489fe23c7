/** FirstBytes: connections that dialled us are held until they speak; the silent ones are closed, not handed on. */

import assert from "node:assert/strict";
import type { ByteStream } from "../../src/common/byte_stream.ts";
import { FirstBytes } from "../../src/peer/first_bytes.ts";

/** A stream whose reads the test answers: `send` gives bytes to the pending read, `end` ends it. */
function fakeStream() {
  const chunks: (Uint8Array | null)[] = [];
  let wake: (() => void) | undefined;
  const stream = {
    closed: false,
    async read(into: Uint8Array): Promise<number | null> {
      while (chunks.length === 0) {
        if (stream.closed) throw new Error("closed");
        await new Promise<void>((r) => wake = r);
      }
      if (stream.closed) throw new Error("closed");
      const head = chunks.shift()!;
      if (head === null) return null;
      into.set(head);
      return head.length;
    },
    write: (bytes: Uint8Array) => Promise.resolve(bytes.length),
    close() {
      stream.closed = true;
      wake?.();
    },
    send(bytes: Uint8Array | null) {
      chunks.push(bytes);
      wake?.();
    },
  };
  return stream;
}

const tick = () => new Promise((r) => setTimeout(r, 0));

Deno.test("FirstBytes hands a connection on once it speaks, its first bytes still to be read, then the rest", async () => {
  const handed: ByteStream[] = [];
  const waiting = new FirstBytes((conn) => handed.push(conn));
  const conn = fakeStream();
  waiting.hold(conn, "127.0.0.1", 1);
  await tick();
  assert.equal(handed.length, 0, "not before it speaks");
  conn.send(Uint8Array.of(19, 66, 105));
  await tick();
  assert.equal(handed.length, 1);
  assert.equal(waiting.size, 0);
  const into = new Uint8Array(2);
  assert.equal(await handed[0].read(into), 2);
  assert.deepEqual(into, Uint8Array.of(19, 66));
  assert.equal(await handed[0].read(into), 1);
  assert.deepEqual(into.subarray(0, 1), Uint8Array.of(105));
  conn.send(Uint8Array.of(7));
  assert.equal(await handed[0].read(into), 1);
  assert.equal(into[0], 7);
  waiting.stop();
});

Deno.test("FirstBytes holds at most `limit` silent connections: the one that waited longest is closed", async () => {
  const handed: ByteStream[] = [];
  const waiting = new FirstBytes((conn) => handed.push(conn), { limit: 3 });
  const conns = Array.from({ length: 5 }, () => fakeStream());
  for (const c of conns) waiting.hold(c, "127.0.0.1", 1);
  await tick();
  assert.deepEqual(conns.map((c) => c.closed), [true, true, false, false, false]);
  assert.equal(waiting.size, 3);
  assert.equal(waiting.closedSilent, 2);
  conns[4].send(Uint8Array.of(1));
  await tick();
  assert.equal(handed.length, 1, "only the one that spoke");
  waiting.stop();
  assert.deepEqual(conns.map((c) => c.closed), [true, true, true, true, false], "stop closes the held ones");
});

Deno.test("FirstBytes closes a connection silent past the time-out, and one that closes before speaking", async () => {
  const handed: ByteStream[] = [];
  const waiting = new FirstBytes((conn) => handed.push(conn), { timeoutMs: 30 });
  const quiet = fakeStream(), leaving = fakeStream();
  waiting.hold(quiet, "127.0.0.1", 1);
  waiting.hold(leaving, "127.0.0.1", 2);
  leaving.send(null);
  await tick();
  assert.equal(leaving.closed, true);
  assert.equal(quiet.closed, false);
  await new Promise((r) => setTimeout(r, 60));
  assert.equal(quiet.closed, true, "closed at the time-out");
  assert.equal(waiting.closedSilent, 1);
  assert.equal(handed.length, 0);
  const late = fakeStream();
  waiting.stop();
  waiting.hold(late, "127.0.0.1", 3);
  assert.equal(late.closed, true, "one handed in after the stop is closed");
});
