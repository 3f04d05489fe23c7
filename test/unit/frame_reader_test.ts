import assert from "node:assert/strict";
import { FrameReader } from "../../src/wire/frame_reader.ts";
import { decodeMessage, encodeHandshake, encodeMessage, type Message } from "../../src/wire/wire.ts";

const MESSAGES: Message[] = [
  { type: "bitfield", bits: new Uint8Array([0xff, 0xf0]) },
  { type: "keep-alive" },
  { type: "unchoke" },
  { type: "have", index: 7 },
  { type: "piece", index: 3, begin: 16384, block: new Uint8Array(16384).map((_, i) => i * 7) },
  { type: "request", index: 1, begin: 0, length: 16384 },
];
const HANDSHAKE = encodeHandshake(new Uint8Array(20).fill(1), new Uint8Array(20).fill(2));
const STREAM = new Uint8Array([...HANDSHAKE, ...MESSAGES.flatMap((m) => [...encodeMessage(m)])]);

/**
 * Feeds `chunks` through a reader as a socket would, decoding each frame before the next read; with `blocks`,
 * taking `piece` frames through `nextBlock()` first, as a peer link does.
 */
function feed(chunks: Uint8Array[], blocks = false): { handshake: Uint8Array; messages: Message[] } {
  const r = new FrameReader(64 * 1024);
  const messages: Message[] = [];
  let handshake: Uint8Array | null = null;
  for (const chunk of chunks) {
    let at = 0;
    while (at < chunk.length) {
      const space = r.space();
      const n = Math.min(space.length, chunk.length - at);
      space.set(chunk.subarray(at, at + n));
      r.filled(n);
      at += n;
      handshake ??= r.take(68)?.slice() ?? null;
      if (!handshake) continue;
      let f;
      while (true) {
        const block = blocks ? r.nextBlock() : null;
        if (block) {
          messages.push({ type: "piece", index: r.blockIndex, begin: r.blockBegin, block: block.slice() });
          continue;
        }
        if ((f = r.next()) === null) break;
        const m = decodeMessage(f);
        messages.push(
          m.type === "piece"
            ? { ...m, block: m.block.slice() }
            : m.type === "bitfield"
            ? { ...m, bits: m.bits.slice() }
            : m,
        );
      }
    }
  }
  return { handshake: handshake!, messages };
}

Deno.test("FrameReader yields the same frames wherever the stream is split in two", () => {
  for (let cut = 0; cut <= STREAM.length; cut++) {
    const { handshake, messages } = feed([STREAM.subarray(0, cut), STREAM.subarray(cut)]);
    assert.deepEqual(handshake, HANDSHAKE);
    assert.deepEqual(messages, MESSAGES, `split at byte ${cut}`);
  }
});

Deno.test("FrameReader yields the same frames when the stream arrives one byte at a time", () => {
  const chunks = Array.from(STREAM, (b) => new Uint8Array([b]));
  assert.deepEqual(feed(chunks).messages, MESSAGES);
});

Deno.test("FrameReader.nextBlock() takes whole piece frames only, wherever the stream is split", () => {
  for (let cut = 0; cut <= STREAM.length; cut += 7) {
    const { messages } = feed([STREAM.subarray(0, cut), STREAM.subarray(cut)], true);
    assert.deepEqual(messages, MESSAGES, `split at byte ${cut}`);
  }
  const r = new FrameReader(1000);
  const piece = encodeMessage({
    type: "piece",
    index: 0x80000001,
    begin: 0x4000,
    block: new Uint8Array(2000),
  });
  r.space().set(piece.subarray(0, 13));
  r.filled(13);
  assert.equal(r.nextBlock(), null, "a piece longer than the maximum frame is not a block");
  assert.throws(() => r.next(), /frame of 2009 bytes exceeds the 1000 limit/, "next() says why");
  const short = new FrameReader(1000);
  const small = encodeMessage({
    type: "piece",
    index: 0x80000001,
    begin: 0x4000,
    block: new Uint8Array([5, 6]),
  });
  short.space().set(small.subarray(0, small.length - 1));
  short.filled(small.length - 1);
  assert.equal(short.nextBlock(), null, "not all there yet");
  assert.equal(short.buffered, small.length - 1, "nothing taken");
  short.space().set(small.subarray(small.length - 1));
  short.filled(1);
  assert.deepEqual(short.nextBlock(), new Uint8Array([5, 6]));
  assert.equal(short.blockIndex, 0x80000001, "above 2^31: unsigned");
  assert.equal(short.blockBegin, 0x4000);
  assert.equal(short.buffered, 0);
});

Deno.test("FrameReader keeps working across many buffer compactions", () => {
  const piece = encodeMessage({ type: "piece", index: 0, begin: 0, block: new Uint8Array(16384).fill(9) });
  const r = new FrameReader(32 * 1024);
  let frames = 0;
  for (let i = 0; i < 1000; i++) {
    // Odd-sized reads leave partial frames at the end of the buffer.
    for (let at = 0; at < piece.length;) {
      const space = r.space();
      const n = Math.min(space.length, piece.length - at, 5000);
      space.set(piece.subarray(at, at + n));
      r.filled(n);
      at += n;
      let f;
      while ((f = r.next()) !== null) {
        assert.equal(f.length, 16393);
        frames++;
      }
    }
  }
  assert.equal(frames, 1000);
  assert.equal(r.buffered, 0);
});

Deno.test("FrameReader rejects a length prefix over its maximum frame size", () => {
  const r = new FrameReader(1000);
  r.space().set([0, 0, 0x03, 0xe9]); // 1001
  r.filled(4);
  assert.throws(() => r.next(), /frame of 1001 bytes exceeds the 1000 limit/);
});

Deno.test("FrameReader gives its buffer back on release(), and the next reader receives into it", () => {
  const first = new FrameReader(128 * 1024 + 16);
  const used = first.space().buffer;
  first.release();
  assert.equal(first.buffered, 0);
  const next = new FrameReader(128 * 1024 + 16);
  assert.equal(next.space().buffer, used, "the released buffer, not a new one");
  const other = new FrameReader(128 * 1024 + 16);
  assert.notEqual(other.space().buffer, used, "a buffer is handed to one reader only");
  // A small reader (4 KiB, for connections peers open) takes a pooled buffer when it grows.
  next.release();
  const small = new FrameReader(128 * 1024 + 16, true);
  small.space().fill(1);
  small.filled(3000);
  assert.equal(small.space().buffer, used);
  assert.deepEqual(small.take(3000), new Uint8Array(3000).fill(1), "the bytes received so far move along");
});

Deno.test("FrameReader reads into 32 KiB until eight reads in a row fill all it offers, then into 256 KiB", () => {
  const drain = (r: FrameReader) => {
    while (r.next() !== null) { /* keep-alives */ }
  };
  const slow = new FrameReader(128 * 1024 + 16), fast = new FrameReader(128 * 1024 + 16);
  for (let i = 0; i < 20; i++) {
    const half = slow.space().subarray(0, 16 * 1024).fill(0); // keep-alive frames, half of what was offered
    slow.filled(half.length);
    drain(slow);
    const all = fast.space().fill(0);
    fast.filled(all.length);
    drain(fast);
  }
  assert.equal(slow.space().length, 32 * 1024, "a peer that never fills the buffer keeps 32 KiB");
  assert.ok(fast.space().length >= 256 * 1024, "a fast one gets the full size");
  slow.release();
  fast.release();
});

Deno.test("FrameReader.idle() gives a large buffer back when nothing is buffered, and grows again when frames come", () => {
  const grow = (reader: FrameReader) => {
    for (let i = 0; i < 20; i++) {
      reader.filled(reader.space().fill(0).length); // keep-alives filling all it offers
      while (reader.next() !== null) { /* drained */ }
    }
  };
  const r = new FrameReader(128 * 1024 + 16);
  grow(r);
  const big = r.space().buffer;
  assert.ok(big.byteLength >= 256 * 1024);
  r.space().set([0, 0, 0, 9, 7]); // a frame begun, not whole
  r.filled(5);
  r.idle();
  assert.equal(r.space().buffer, big, "a frame half received keeps its buffer");
  r.space().set([1, 2, 3, 4, 5, 6, 7, 8]);
  r.filled(8);
  assert.equal(r.next()?.length, 9);
  r.idle();
  assert.equal(r.space().length, 4096, "nothing buffered: back to 4 KiB");
  const other = new FrameReader(128 * 1024 + 16);
  grow(other);
  assert.equal(other.space().buffer, big, "the large buffer went back to its pool, for the next reader");
  grow(r);
  assert.ok(r.space().length >= 256 * 1024, "blocks again: it grows again");
  other.release();
  r.release();
});
