import assert from "node:assert/strict";
import { PieceDownloads } from "../../actors/peer_download.ts";
import { BufferPool, poolFor } from "../../src/buffer_pool.ts";

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

Deno.test("PieceDownloads gives the buffers of abandoned pieces back to the pool", () => {
  const torrent = { pieceLength: 32768 + 512, pieceCount: 4, totalLength: 4 * (32768 + 512) };
  const pool = poolFor(torrent.pieceLength);
  const d = new PieceDownloads(torrent, 10);
  d.add(0);
  d.add(1);
  const before = pool.free;
  d.cancel(0);
  assert.equal(pool.free, before + 1);
  d.drop();
  assert.equal(pool.free, before + 2);
});
