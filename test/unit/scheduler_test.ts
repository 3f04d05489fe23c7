/** The scheduler as plain code: events in, orders out, no actor. Handles are plain strings here. */

import assert from "node:assert/strict";
import { Bitfield } from "../../src/common/bitfield.ts";
import { LocalPieces } from "../../src/pieces/local_pieces.ts";
import { type Addressed, Scheduler } from "../../src/pieces/scheduler.ts";
import { testTorrent } from "../helpers/make_torrent.ts";

const PIECE = 16384;
const { meta } = await testTorrent({ size: 8 * PIECE, pieceLength: PIECE, seed: 9 });

function scheduler(options: { budgetBytes?: number; piecesPerPeer?: number; endgameBytes?: number } = {}) {
  const ours = new LocalPieces(meta.pieceCount);
  let seed = 1;
  const s = new Scheduler<string>({
    meta,
    ours,
    piecesPerPeer: options.piecesPerPeer ?? 2,
    initialWant: 2,
    budgetBytes: options.budgetBytes ?? 64 * PIECE,
    endgameBytes: options.endgameBytes,
    random: () => (seed = (seed * 16807) % 2147483647) / 2147483647,
  });
  return { s, ours };
}

function bits(...indices: number[]): Bitfield {
  const b = new Bitfield(meta.pieceCount);
  for (const i of indices) b.set(i);
  return b;
}

const all = [0, 1, 2, 3, 4, 5, 6, 7];
const assigned = (orders: Addressed<string>[], to: string) =>
  orders.flatMap((o) => o.to === to && o.order.type === "assign" ? o.order.indices : []);
const whole = (index: number) => ({ index, data: new Uint8Array(PIECE) });

Deno.test("Scheduler: interest at the bitfield, pieces once ready, never the same piece to two peers", () => {
  const { s } = scheduler();
  s.hello("a", "A");
  s.hello("b", "B");
  assert.deepEqual(s.bitfield("a", bits(...all)), [{ to: "A", order: { type: "interest", value: true } }]);
  assert.deepEqual(s.bitfield("a", bits(0)), [], "a second bitfield is ignored");
  s.bitfield("b", bits(...all));
  const a = assigned(s.ready("a"), "A");
  const b = assigned(s.ready("b"), "B");
  assert.equal(a.length, 2);
  assert.equal(b.length, 2);
  assert.equal(new Set([...a, ...b]).size, 4, "four different pieces");
  assert.equal(s.inFlightBytes, 4 * PIECE);
});

Deno.test("Scheduler: rarest first: a piece only one peer has goes out before common ones", () => {
  const { s } = scheduler({ piecesPerPeer: 1 });
  for (const k of ["a", "b", "c"]) s.hello(k, k.toUpperCase());
  s.bitfield("b", bits(0, 1, 2, 3, 4, 5, 6));
  s.bitfield("c", bits(0, 1, 2, 3, 4, 5, 6));
  s.bitfield("a", bits(...all)); // only a has piece 7
  assert.deepEqual(assigned(s.ready("a"), "A"), [7]);
});

Deno.test("Scheduler: a choked or departed peer's pieces go to the others", () => {
  const { s } = scheduler({ piecesPerPeer: 8 });
  s.hello("a", "A");
  s.hello("b", "B");
  s.bitfield("a", bits(...all));
  s.bitfield("b", bits(...all));
  const held = assigned(s.ready("a"), "A");
  assert.equal(held.length, 2);
  s.pieces("b", [], 8); // b's pipeline wants eight
  assert.equal(assigned(s.ready("b"), "B").length, 6, "b takes all a does not hold");
  assert.deepEqual(assigned(s.choked("a"), "B").sort(), held.sort(), "b gets what a held");
  assert(assigned(s.ready("a"), "A").length <= 1, "for a, at most an endgame duplicate of a piece b holds");
  assert(assigned(s.gone("b"), "A").length >= 1, "b leaves: a gets its pieces");
});

Deno.test("Scheduler: the first copy is verified, a duplicate's holder is told to cancel", () => {
  const { s } = scheduler({ piecesPerPeer: 8 });
  s.hello("a", "A");
  s.hello("b", "B");
  s.bitfield("a", bits(...all));
  s.bitfield("b", bits(...all));
  s.pieces("a", [], 8);
  assert.equal(assigned(s.ready("a"), "A").length, 8, "a holds every piece");
  const [dup, ...rest] = assigned(s.ready("b"), "B");
  assert.deepEqual(rest, [], "endgame: an idle peer duplicates one piece");
  const first = s.pieces("b", [whole(dup)], 2);
  assert.deepEqual(first.verify.map((p) => p.index), [dup]);
  assert.deepEqual(first.orders.filter((o) => o.order.type === "cancel"), [
    { to: "A", order: { type: "cancel", index: dup } },
  ]);
  assert.equal(s.stats.receivedBytes, PIECE);
  const late = s.pieces("a", [whole(dup)], 8);
  assert.deepEqual(late.verify, [], "the late copy is not verified again");
  assert.equal(s.stats.receivedBytes, PIECE);
});

Deno.test("Scheduler: the endgame's duplicates stay within their bytes, and a delivered piece frees its copy's room", () => {
  const { s } = scheduler({ piecesPerPeer: 8, endgameBytes: 2 * PIECE });
  const idle = ["b", "c", "d", "e", "f"];
  for (const k of ["a", ...idle]) {
    s.hello(k, k.toUpperCase());
    s.bitfield(k, bits(...all));
  }
  s.pieces("a", [], 8);
  assert.equal(assigned(s.ready("a"), "A").length, 8, "a holds every piece: the endgame");
  const dups = idle.map((k) => assigned(s.ready(k), k.toUpperCase()));
  assert.deepEqual(dups.map((d) => d.length), [1, 1, 0, 0, 0], "two duplicates of 16 KiB, then none");
  assert.equal(dups[0][0], dups[1][0], "both duplicate the first piece in flight");
  assert.deepEqual(assigned(s.ready("d"), "D"), [], "still none for d");
  const delivered = s.pieces("a", [whole(dups[0][0])], 8);
  const again = delivered.orders.filter((o) => o.order.type === "assign");
  assert.deepEqual(
    again.map((o) => o.to),
    ["B", "C"],
    "both copies were cancelled: their room is free again",
  );
  assert.deepEqual(assigned(s.ready("d"), "D"), [], "and taken again: none for d");
});

Deno.test("Scheduler: the memory budget holds pieces back until verified ones free it", () => {
  const { s, ours } = scheduler({ budgetBytes: PIECE, piecesPerPeer: 4 }); // one peer: twice that
  s.hello("a", "A");
  s.bitfield("a", bits(...all));
  s.pieces("a", [], 4);
  const first = assigned(s.ready("a"), "A");
  assert.equal(first.length, 2, "the budget, not the peer's want, stops it");
  const { verify } = s.pieces("a", first.map(whole), 4);
  assert.equal(verify.length, 2);
  assert.deepEqual(assigned(s.pieces("a", [], 4).orders, "A"), [], "being verified: still in the budget");
  const freed = s.verified(first);
  assert.equal(assigned(freed, "A").length, 2, "verified: room again");
  assert(first.every((i) => ours.have.has(i)));
  assert.equal(s.stats.verifiedPieces, 2);
  assert.equal(s.stats.verifiedBytes, 2 * PIECE);
});

Deno.test("Scheduler: the budget is twice as large while at most two peers have unchoked us", () => {
  const { s } = scheduler({ budgetBytes: 2 * PIECE, piecesPerPeer: 8 });
  for (const k of ["a", "b", "c"]) {
    s.hello(k, k.toUpperCase());
    s.bitfield(k, bits(...all));
    s.pieces(k, [], 8);
  }
  const first = assigned(s.ready("a"), "A");
  assert.equal(first.length, 4, "one peer: 4 pieces, twice the budget");
  assert.equal(assigned(s.ready("b"), "B").length, 0, "two peers: 4 pieces out, full");
  s.ready("c");
  s.pieces("a", [whole(first[0])], 8);
  const after = s.verified([first[0]]);
  assert.deepEqual(after.filter((o) => o.order.type === "assign"), [], "three peers: 3 pieces out, over 2");
  s.choked("c");
  const [, second] = first;
  s.pieces("a", [whole(second)], 8);
  const two = s.verified([second]);
  assert.equal(two.filter((o) => o.order.type === "assign").length, 1, "two again: 2 out, room for 2 more");
});

Deno.test("Scheduler: a corrupt piece is missing again and counted; completion drops interest", () => {
  const { s } = scheduler({ piecesPerPeer: 8 });
  s.hello("a", "A");
  s.bitfield("a", bits(...all));
  s.pieces("a", [], 8);
  const pieces = assigned(s.ready("a"), "A");
  assert.equal(pieces.length, 8);
  s.pieces("a", pieces.map(whole), 8);
  s.verified(pieces.filter((i) => i !== 3));
  assert.deepEqual(assigned(s.corrupt(3, "a"), "A"), [3], "asked again");
  assert.equal(s.stats.hashFailures, 1);
  s.pieces("a", [whole(3)], 8);
  s.verified([3]);
  assert(s.complete);
  assert.deepEqual(s.completed(), [{ to: "A", order: { type: "interest", value: false } }]);
});

Deno.test("Scheduler: a peer that fetches runs (a web seed) gets consecutive pieces, then jumps where one is taken", () => {
  const { s } = scheduler({ piecesPerPeer: 3 });
  s.hello("w", "W", true);
  s.hello("p", "P");
  s.bitfield("p", bits(...all));
  const p = assigned(s.ready("p"), "P"); // two random pieces, before the web seed starts
  s.bitfield("w", bits(...all));
  s.pieces("w", [], 3);
  const w = assigned(s.ready("w"), "W");
  assert.equal(w.length, 3);
  for (let k = 1; k < w.length; k++) {
    // Each next piece is the one after the last unless that one is the other peer's (or past the end).
    if (!p.includes(w[k - 1] + 1) && w[k - 1] + 1 < meta.pieceCount) assert.equal(w[k], w[k - 1] + 1, `${w}`);
  }
  // A plain peer's pieces, all as rare, come as a run too: the picker's (its start is random, tested there).
  const { s: plain } = scheduler({ piecesPerPeer: 4 });
  plain.hello("q", "Q");
  plain.bitfield("q", bits(...all));
  plain.pieces("q", [], 4);
  const q = assigned(plain.ready("q"), "Q");
  assert.ok(q.every((i, k) => k === 0 || i === q[k - 1] + 1 || q[k - 1] + 1 === meta.pieceCount), `${q}`);
});
