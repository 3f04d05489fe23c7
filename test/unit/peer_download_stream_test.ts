import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { CHUNK, PieceDownloads } from "../../src/peer/download.ts";
import type { PieceWriter } from "../../src/pieces/piece_writers.ts";
import { payload } from "../helpers/make_torrent.ts";

// Two pieces of two chunks and a bit (blocks of 16384, the last one 3616 bytes).
const PIECE = 2 * CHUNK + 20000;
const TORRENT = { pieceLength: PIECE, pieceCount: 2, totalLength: 2 * PIECE };
const BLOCK = 16384;

/** A writer that grants what `granted` holds and records every write. */
function writer(granted: Set<number>, failAfter = Infinity) {
  const puts: { index: number; begin: number; bytes: Uint8Array }[] = [];
  const w: PieceWriter = {
    claim: (index) => granted.has(index),
    put: (index, begin, data) => {
      if (!granted.has(index) || puts.length >= failAfter) return false;
      puts.push({ index, begin, bytes: data.slice() });
      return true;
    },
    settle: (piece) => piece,
  };
  return { w, puts };
}

/** Block offsets of a piece, in the order given by `order` over block numbers. */
function blocks(piece: Uint8Array, order: number[]): [number, Uint8Array][] {
  return order.map((b) => [b * BLOCK, piece.subarray(b * BLOCK, Math.min(piece.length, (b + 1) * BLOCK))]);
}

const BLOCKS = Math.ceil(PIECE / BLOCK); // 34: 16 per chunk, two in the short last chunk

Deno.test("PieceDownloads streams a large piece to its writer a chunk at a time, in order, and returns its SHA-1", () => {
  const piece = payload(PIECE, 5);
  const { w, puts } = writer(new Set([1]));
  const d = new PieceDownloads(TORRENT, 512, Date.now, w);
  d.add(1);
  assert.ok(d.requests());
  // The second chunk's blocks come before the last block of the first: it waits for it.
  const order = [...Array(BLOCKS).keys()];
  const late = order.splice(15, 1)[0];
  order.splice(31, 0, late);
  let done;
  for (const [begin, bytes] of blocks(piece, order)) {
    assert.equal(done, undefined, "complete only at the last block");
    done = d.block(1, begin, bytes);
  }
  assert.deepEqual(puts.map((p) => [p.index, p.begin, p.bytes.length]), [
    [1, 0, CHUNK],
    [1, CHUNK, CHUNK],
    [1, 2 * CHUNK, 20000],
  ]);
  assert.deepEqual(new Uint8Array(puts.flatMap((p) => [...p.bytes])), piece);
  const sha1 = new Uint8Array(createHash("sha1").update(piece).digest());
  assert.deepEqual(done, { index: 1, digest: sha1 });
  assert.equal(d.pieces, 0);
});

Deno.test("PieceDownloads writes no more of a piece whose grant is gone, and reports nothing for it", () => {
  const piece = payload(PIECE, 6);
  const granted = new Set([0]);
  const { w, puts } = writer(granted);
  const d = new PieceDownloads(TORRENT, 512, Date.now, w);
  d.add(0);
  d.requests();
  const all = blocks(piece, [...Array(BLOCKS).keys()]);
  let done;
  for (const [i, [begin, bytes]] of all.entries()) {
    if (i === 20) granted.delete(0); // the coordinator took another copy of the piece
    done = d.block(0, begin, bytes);
  }
  assert.deepEqual(puts.map((p) => p.begin), [0], "the first chunk only");
  assert.equal(done, undefined);
  assert.equal(d.pieces, 0);
});

Deno.test("PieceDownloads assembles a large piece in memory when it has no grant (an endgame duplicate)", () => {
  const piece = payload(PIECE, 7);
  const { w, puts } = writer(new Set());
  const d = new PieceDownloads(TORRENT, 512, Date.now, w);
  d.add(1);
  d.requests();
  let done;
  for (const [begin, bytes] of blocks(piece, [...Array(BLOCKS).keys()])) done = d.block(1, begin, bytes);
  assert.deepEqual(puts, []);
  assert.ok(done && "data" in done);
  assert.deepEqual(done.data, piece);
});
