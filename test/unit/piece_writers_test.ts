import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { PieceWriters } from "../../src/pieces/piece_writers.ts";
import { poolFor } from "../../src/common/buffer_pool.ts";

function disk(size: number) {
  const bytes = new Uint8Array(size);
  const writes: number[] = [];
  return {
    bytes,
    writes,
    write: (offset: number, data: Uint8Array) => (writes.push(offset), bytes.set(data, offset)),
  };
}

Deno.test("PieceWriters grants a large piece to the first peer assigned it, and only that peer writes it", () => {
  const d = disk(4 * 100);
  const w = new PieceWriters(d.write, 100, 50);
  w.grant(1, "a", 40);
  assert.equal(w.owner(1), undefined, "a piece under the threshold is assembled in memory");
  w.grant(1, "a", 100);
  w.grant(1, "b", 100); // an endgame duplicate
  assert.equal(w.owner(1), "a");
  assert.equal(w.for("a").claim(1), true);
  assert.equal(w.for("b").claim(1), false);
  assert.equal(w.for("b").put(1, 0, new Uint8Array(10).fill(9)), false);
  assert.equal(w.for("a").put(1, 10, new Uint8Array(10).fill(7)), true);
  assert.deepEqual(d.writes, [110], "at the piece's offset");
  w.grant(2, "a", 50);
  w.grant(3, "a", 51);
  assert.equal(w.for("a").claim(2), false, "at the threshold: assembled in memory");
  assert.equal(w.for("a").claim(3), true, "over it: written as it arrives");
});

Deno.test("PieceWriters: a revoked grant writes nothing more, and only its holder's revoke counts for a key", () => {
  const d = disk(400);
  const w = new PieceWriters(d.write, 100, 0);
  w.grant(2, "a", 100);
  w.revoke(2, "b");
  assert.equal(w.owner(2), "a", "b did not hold it");
  w.revoke(2);
  assert.equal(w.for("a").put(2, 0, new Uint8Array(5).fill(1)), false);
  assert.deepEqual(d.writes, []);
  w.grant(2, "c", 100); // given to another peer afterwards
  assert.equal(w.for("c").claim(2), true);
});

Deno.test("PieceWriters reports the first failed write once, and then refuses every write", () => {
  const messages: string[] = [];
  const w = new PieceWriters(
    () => {
      throw new Error("No space left on device");
    },
    100,
    0,
  );
  w.onError = (m) => messages.push(m);
  w.grant(3, "a", 100);
  w.grant(1, "b", 100);
  assert.equal(w.for("a").put(3, 0, new Uint8Array(4)), false);
  assert.equal(w.for("b").put(1, 0, new Uint8Array(4)), false);
  assert.equal(w.for("b").claim(1), false);
  assert.deepEqual(messages, ["cannot write piece 3: No space left on device"]);
});

Deno.test("PieceWriters.settle() writes a small piece that matches its hash at once, and never one that does not", () => {
  const d = disk(4 * 100);
  const good = new Uint8Array(100).map((_, i) => i);
  const hashes = new Uint8Array(80);
  for (let i = 0; i < 4; i++) hashes.set(createHash("sha1").update(good).digest(), 20 * i);
  const w = new PieceWriters(d.write, 100, 100, hashes);
  const pool = poolFor(100);
  const before = pool.free;
  assert.deepEqual(w.for("a").settle({ index: 2, data: good.slice() }), { index: 2, checked: true });
  assert.deepEqual(d.bytes.subarray(200, 300), good, "written at the piece's offset");
  assert.equal(pool.free, before + 1, "its buffer went back");
  const bad = good.slice();
  bad[50] ^= 1;
  assert.deepEqual(w.for("a").settle({ index: 1, data: bad }), { index: 1, checked: false });
  assert.deepEqual(d.writes, [200], "the corrupt copy is not written");
  // A piece over the stream threshold may be granted to a peer writing it block by block: left to the verifier.
  const big = new PieceWriters(d.write, 100, 50, hashes);
  const piece = { index: 0, data: good.slice() };
  assert.equal(big.for("a").settle(piece), piece);
  assert.equal(
    new PieceWriters(d.write, 100, 100).for("a").settle(piece),
    piece,
    "without hashes, nothing checked",
  );
  assert.deepEqual(d.writes, [200]);
});

Deno.test("PieceWriters.settle() reports a failed write once and drops the piece, which is not ours", () => {
  const messages: string[] = [];
  const hashes = createHash("sha1").update(new Uint8Array(10)).digest();
  const w = new PieceWriters(
    () => {
      throw new Error("No space left on device");
    },
    10,
    10,
    new Uint8Array(hashes),
  );
  w.onError = (m) => messages.push(m);
  assert.equal(w.for("a").settle({ index: 0, data: new Uint8Array(10) }), undefined);
  assert.deepEqual(messages, ["cannot write piece 0: No space left on device"]);
  const after = { index: 0, data: new Uint8Array(10) };
  assert.equal(w.for("a").settle(after), after, "after a failure: left to the verifier, which fails too");
});
