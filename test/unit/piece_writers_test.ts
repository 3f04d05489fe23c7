import assert from "node:assert/strict";
import { PieceWriters } from "../../src/pieces/piece_writers.ts";

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
