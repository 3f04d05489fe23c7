import assert from "node:assert/strict";
import { PieceDownloads } from "../../src/peer/download.ts";
import { BufferPool, poolFor } from "../../src/common/buffer_pool.ts";

Deno.test("BufferPool hands back given buffers and leaves odd sizes and views to the collector", () => {
  const pool = new BufferPool(1024, 2);
  const a = pool.take();
  assert.equal(a.length, 1024);
  pool.give(a);
  assert.equal(pool.take(), a, "recycled");
  pool.give(new Uint8Array(1000));
  pool.give(new Uint8Array(2048).subarray(0, 1024));
  assert.equal(pool.free, 0);
  pool.give(new Uint8Array(1024));
  pool.give(new Uint8Array(1024));
  pool.give(new Uint8Array(1024));
  assert.equal(pool.free, 2, "no more than max");
});

Deno.test("PieceDownloads takes a buffer at a piece's first block and gives it back when the piece is abandoned", () => {
  // A piece size no other test uses, so this pool starts empty.
  const torrent = { pieceLength: 32768 + 512, pieceCount: 4, totalLength: 4 * (32768 + 512) };
  const pool = poolFor(torrent.pieceLength);
  assert.equal(pool.free, 0);
  const d = new PieceDownloads(torrent, 10);
  d.add(0);
  d.add(1);
  d.add(2);
  assert.ok(d.requests());
  assert.equal(d.block(0, 0, new Uint8Array(16384)), undefined);
  assert.equal(d.block(1, 0, new Uint8Array(16384)), undefined);
  d.cancel(2); // only requested: it held no buffer
  assert.equal(pool.free, 0);
  d.cancel(0);
  assert.equal(pool.free, 1);
  d.drop();
  assert.equal(pool.free, 2);
  // The next piece to get a block reuses one of them.
  d.add(3);
  assert.ok(d.requests());
  d.block(3, 0, new Uint8Array(16384));
  assert.equal(pool.free, 1);
});
