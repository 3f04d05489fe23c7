import assert from "node:assert/strict";
import { Bitfield } from "../../src/common/bitfield.ts";
import { Holders } from "../../src/pieces/holders.ts";
import { PiecePicker, PieceState } from "../../src/pieces/piece_picker.ts";

function all(n: number): Bitfield {
  const b = new Bitfield(n);
  for (let i = 0; i < n; i++) b.set(i);
  return b;
}

Deno.test("PiecePicker skips pieces already verified and pieces the peer lacks", () => {
  const have = new Bitfield(4);
  have.set(0);
  const p = new PiecePicker(4, have);
  const peer = new Bitfield(4);
  peer.set(0);
  peer.set(2);
  assert.equal(p.pick(peer, "a"), 2);
  assert.equal(p.pick(peer, "a"), -1);
  assert.equal(p.verifiedCount, 1);
});

Deno.test("PiecePicker gives a piece that failed its hash to another peer first", () => {
  const p = new PiecePicker(2);
  const x = p.pick(all(2), "liar");
  assert.deepEqual(p.received(x, "liar"), []);
  p.failed(x, "liar");
  assert.equal(p.state[x], PieceState.Missing);
  assert.equal(p.pick(all(2), "liar"), 1 - x, "the liar gets another piece");
  assert.equal(p.pick(all(2), "honest"), x, "the failed piece goes to someone else");
});

Deno.test("PiecePicker hands out the rarest piece first, and breaks ties at random", () => {
  const p = new PiecePicker(6);
  const everyone = all(6);
  const some = new Bitfield(6);
  [1, 4].forEach((i) => some.set(i));
  p.addPeer(everyone);
  p.addPeer(everyone);
  p.addPeer(some); // pieces 0, 2, 3, 5: two peers; 1 and 4: three
  p.peerHas(3); // two more peers announced piece 3: four have it
  p.peerHas(3);
  const first = [p.pick(everyone, "a"), p.pick(everyone, "a"), p.pick(everyone, "a")].sort();
  assert.deepEqual(first, [0, 2, 5], "the pieces two peers have go first");
  assert.equal(p.pick(everyone, "a") === 3, false, "then those three peers have, before piece 3");
  p.removePeer(some); // 1 and 4 drop to two peers, below piece 3
  assert.equal(p.pick(everyone, "a") === 3, false);
  assert.equal(p.pick(everyone, "a"), 3);
  assert.equal(p.inEndgame, true);
  // Ties at random: different seeds start on different pieces.
  const starts = new Set<number>();
  for (const r of [0, 0.3, 0.6, 0.9]) starts.add(new PiecePicker(8, undefined, () => r).pick(all(8), "a"));
  assert(starts.size > 1);
});

Deno.test("PiecePicker puts a released or failed piece back among the missing ones, by its availability", () => {
  const p = new PiecePicker(3, undefined, () => 0);
  const rare = new Bitfield(3);
  rare.set(2);
  p.addPeer(all(3));
  p.addPeer(all(3));
  p.addPeer(rare); // piece 2 is the most common
  const i = p.pick(all(3), "a");
  p.release(i, "a");
  assert.equal(p.state[i], PieceState.Missing);
  const picked = [p.pick(all(3), "b"), p.pick(all(3), "b"), p.pick(all(3), "b")];
  assert.equal(picked[2], 2, "the common piece last");
  assert.deepEqual([...picked].sort(), [0, 1, 2]);
});

Deno.test("PiecePicker lets the same peer retry a failed piece when nothing else is left", () => {
  const p = new PiecePicker(1);
  p.pick(all(1), "only");
  p.received(0, "only");
  p.failed(0, "only");
  assert.equal(p.pick(all(1), "only"), 0);
});

Deno.test("PiecePicker makes a released piece missing again only when nobody else holds it", () => {
  const p = new PiecePicker(1);
  p.pick(all(1), "a");
  assert.equal(p.inEndgame, true);
  assert.equal(p.pickEndgame(all(1), "b"), 0);
  p.release(0, "a");
  assert.equal(p.state[0], PieceState.Active);
  p.release(0, "b");
  assert.equal(p.state[0], PieceState.Missing);
});

Deno.test("PiecePicker drops a late duplicate of a piece already being verified", () => {
  const p = new PiecePicker(1);
  p.pick(all(1), "a");
  p.pickEndgame(all(1), "b");
  assert.deepEqual(p.received(0, "a"), ["b"]);
  assert.equal(p.received(0, "b"), null);
  p.verified(0);
  assert.equal(p.complete, true);
});

Deno.test("Holders: three at most per piece, others named, a peer's pieces found, its slot reused once it holds none", () => {
  const h = new Holders(4);
  assert.ok(h.add(2, "a") && h.add(2, "b") && h.add(2, "c"));
  assert.equal(h.add(2, "d"), false, "a fourth holder is refused");
  assert.equal(h.add(2, "a"), false, "a holder is not added twice");
  assert.deepEqual(h.others(2, "b"), ["a", "c"]);
  assert.equal(h.remove(2, "b"), true);
  assert.equal(h.remove(2, "b"), false);
  assert.deepEqual([h.count(2), h.has(2, "c"), h.has(2, "b")], [2, true, false]);
  h.add(0, "c");
  assert.deepEqual(h.piecesOf("c"), [0, 2]);
  assert.deepEqual(h.all(), new Map([["c", [0, 2]], ["a", [2]]]));
  h.clear(2);
  h.remove(0, "c");
  // "a" and "c" hold nothing: a new peer takes a freed slot and is not mistaken for either.
  h.add(1, "e");
  assert.deepEqual([h.has(1, "e"), h.has(1, "a"), h.has(1, "c"), h.piecesOf("e")], [true, false, false, [1]]);
  assert.deepEqual(h.others(1, "e"), []);
});

Deno.test("Holders: copies counts the holders beyond each piece's first, through adds, removals and clears", () => {
  const h = new Holders(4);
  h.add(0, "a");
  h.add(1, "a");
  assert.equal(h.copies, 0, "one holder a piece: no copy");
  h.add(0, "b");
  h.add(0, "c");
  h.add(1, "b");
  assert.equal(h.copies, 3);
  h.remove(0, "a"); // the first leaves: b and c still fetch piece 0
  assert.equal(h.copies, 2);
  h.remove(1, "b");
  assert.equal(h.copies, 1);
  h.remove(1, "a");
  assert.equal(h.copies, 1, "a piece nobody holds is no copy");
  h.clear(0);
  assert.equal(h.copies, 0);
});

Deno.test("PiecePicker counts seeds apart: a seed joining or leaving moves no piece, the rarest still go first", () => {
  const p = new PiecePicker(4);
  const some = new Bitfield(4);
  some.set(1);
  const before = [...p.availability];
  assert.equal(p.addPeer(all(4)), true, "a seed");
  assert.deepEqual([...p.availability], before, "no piece changed bucket");
  assert.equal(p.addPeer(some), false);
  assert.equal(p.seeds, 1);
  assert.notEqual(p.pick(all(4), "a"), 1, "piece 1 has two peers, the others one: it is not first");
  p.removePeer(all(4), true);
  assert.equal(p.seeds, 0);
  assert.deepEqual([...p.availability], [0, 1, 0, 0], "the seed's leaving left the other peer's count alone");
  // A peer that had some pieces and announced the rest leaves through its bits, not as a seed.
  const grown = new Bitfield(4);
  grown.set(2);
  p.addPeer(grown);
  for (const i of [0, 1, 3]) {
    grown.set(i);
    p.peerHas(i);
  }
  p.removePeer(grown, false);
  assert.deepEqual([...p.availability], [0, 1, 0, 0]);
});

Deno.test("PiecePicker hands out runs of pieces in order, each from a random start, and the rarest still first", () => {
  const p = new PiecePicker(10, undefined, () => 0.5);
  const everyone = all(10);
  p.addPeer(everyone);
  p.addPeer(everyone);
  const picks = [0, 1, 2, 3].map(() => p.pick(everyone, "a"));
  assert.deepEqual(picks, [5, 6, 7, 8], "a random start, then in order");
  p.peerHas(9); // piece 9 is now commoner than the rest: the run does not take it before them
  const next = p.pick(everyone, "a");
  assert.notEqual(next, 9);
  assert.equal(p.pick(everyone, "a"), next + 1, "a new run from there");
  const lacking = new Bitfield(10);
  [0, 1, 2, 3, 4].filter((i) => i !== next + 2).forEach((i) => lacking.set(i));
  assert.notEqual(p.pick(lacking, "b"), next + 2, "a peer without the run's next piece gets another");
});
