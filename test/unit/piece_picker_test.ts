import assert from "node:assert/strict";
import { Bitfield } from "../../src/bitfield.ts";
import { PiecePicker, PieceState } from "../../src/piece_picker.ts";

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
  const p = new PiecePicker(3);
  assert.equal(p.pick(all(3), "liar"), 0);
  assert.deepEqual(p.received(0, "liar"), []);
  p.failed(0, "liar");
  assert.equal(p.state[0], PieceState.Missing);
  assert.equal(p.pick(all(3), "liar"), 1, "the liar gets another piece");
  assert.equal(p.pick(all(3), "honest"), 0, "the failed piece goes to someone else");
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
