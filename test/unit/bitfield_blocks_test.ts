import assert from "node:assert/strict";
import { Bitfield } from "../../src/common/bitfield.ts";
import { BLOCK_SIZE, blockCount, blockLength } from "../../src/wire/blocks.ts";
import { sha1, sha1HashersMade, sha1Now, sha1Piece } from "../../src/common/bytes.ts";

Deno.test("Bitfield maps piece 0 to the high bit of byte 0", () => {
  const b = new Bitfield(10, new Uint8Array([0b1000_0001, 0b0100_0000]));
  assert.deepEqual([0, 1, 7, 8, 9].map((i) => b.has(i)), [true, false, true, false, true]);
  assert.equal(b.count, 3);
  assert.equal(b.set(1), true);
  assert.equal(b.set(1), false);
  assert.deepEqual(b.bytes, new Uint8Array([0b1100_0001, 0b0100_0000]));
});

Deno.test("Bitfield rejects spare bits set, the wrong size and indices out of range", () => {
  assert.throws(() => new Bitfield(10, new Uint8Array([0, 0b0010_0000])), /spare bits/);
  assert.throws(() => new Bitfield(10, new Uint8Array(3)), /3 bytes for 10 pieces/);
  assert.throws(() => new Bitfield(10).set(10), /out of range/);
});

Deno.test("blockCount() and blockLength() give the short last block", () => {
  assert.equal(blockCount(BLOCK_SIZE * 4), 4);
  assert.equal(blockCount(BLOCK_SIZE * 4 + 1), 5);
  assert.equal(blockLength(BLOCK_SIZE * 4 + 1, 4), 1);
  assert.equal(blockLength(BLOCK_SIZE * 4 + 1, 3), BLOCK_SIZE);
  assert.equal(blockCount(4465), 1);
  assert.equal(blockLength(4465, 0), 4465);
});

Deno.test("sha1Piece() equals Web Crypto's SHA-1 for pieces smaller and larger than its 256 KiB slice", async () => {
  for (const size of [0, 1, 262_144, 262_145, 1_000_000]) {
    const data = new Uint8Array(size).map((_, i) => (i * 31) & 0xff);
    assert.deepEqual(await sha1Piece(data), await sha1(data), `${size} bytes`);
  }
});

Deno.test("sha1Now() equals Web Crypto's SHA-1, writes into a given array, and counts its hashers", async () => {
  const made = sha1HashersMade();
  for (const size of [0, 1, 55, 64, 16_384, 32_769]) {
    const data = new Uint8Array(size).map((_, i) => (i * 7 + size) & 0xff);
    const out = new Uint8Array(20);
    assert.equal(sha1Now(data, out), out);
    assert.deepEqual(out, await sha1(data), `${size} bytes`);
    assert.deepEqual(sha1Now(data), await sha1(data));
  }
  await sha1Piece(new Uint8Array(300_000));
  assert.equal(
    sha1HashersMade() - made,
    13,
    "two a size, one for the piece: the heap keeper counts them all",
  );
});
