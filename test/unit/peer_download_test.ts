import assert from "node:assert/strict";
import { PieceDownloads } from "../../src/peer/download.ts";
import { START_DEPTH } from "../../src/peer/pipeline.ts";
import type { WholePiece } from "../../src/pieces/scheduler.ts";
import { decodeMessage, type Message } from "../../src/wire/wire.ts";

// Three pieces of 40000 bytes (blocks 16384, 16384, 7232), the last piece short: 20000 bytes (16384, 3616).
const TORRENT = { pieceLength: 40000, pieceCount: 3, totalLength: 100_000 };

function frames(bytes: Uint8Array | undefined): Message[] {
  const out: Message[] = [];
  if (!bytes) return out;
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let at = 0; at < bytes.length;) {
    const len = v.getUint32(at);
    out.push(decodeMessage(bytes.subarray(at + 4, at + 4 + len)));
    at += 4 + len;
  }
  return out;
}

/** The bytes of a piece assembled in memory (every piece here: these downloads stream nothing to disk). */
function bytesOf(piece: WholePiece | undefined): Uint8Array | undefined {
  return piece && "data" in piece ? piece.data : undefined;
}

Deno.test("PieceDownloads requests blocks in piece order up to the pipeline depth, short last blocks included", () => {
  const d = new PieceDownloads(TORRENT, 4);
  d.add(2);
  d.add(0);
  const sent = frames(d.requests());
  assert.deepEqual(sent, [
    { type: "request", index: 2, begin: 0, length: 16384 },
    { type: "request", index: 2, begin: 16384, length: 3616 },
    { type: "request", index: 0, begin: 0, length: 16384 },
    { type: "request", index: 0, begin: 16384, length: 16384 },
  ]);
  assert.equal(d.requests(), undefined, "the pipeline is full");
  assert.equal(d.pipeline.outstanding, 4);
});

Deno.test("PieceDownloads assembles a piece from its blocks and ignores blocks it did not ask for", () => {
  const d = new PieceDownloads(TORRENT, 10);
  d.add(2);
  d.requests();
  assert.equal(d.block(1, 0, new Uint8Array(16384)), undefined, "a piece not assigned");
  assert.equal(d.block(2, 100, new Uint8Array(16384)), undefined, "unaligned");
  assert.equal(d.block(2, 16384, new Uint8Array(100)), undefined, "the wrong length");
  assert.equal(d.block(2, 0, new Uint8Array(16384).fill(1)), undefined, "not complete yet");
  assert.equal(d.block(2, 0, new Uint8Array(16384).fill(9)), undefined, "a duplicate is ignored");
  const piece = bytesOf(d.block(2, 16384, new Uint8Array(3616).fill(2)));
  assert.equal(piece?.length, 20000);
  assert.equal(piece![0], 1, "the duplicate did not overwrite");
  assert.equal(piece![19999], 2);
  assert.deepEqual([d.pipeline.outstanding, d.pieces, d.pipeline.received], [0, 0, 20000]);
});

Deno.test("PieceDownloads cancels the blocks of a piece still on the wire, and reports a stall", () => {
  const d = new PieceDownloads(TORRENT, 10);
  d.add(0);
  d.requests();
  d.block(0, 0, new Uint8Array(16384));
  assert.deepEqual(frames(d.cancel(0)), [
    { type: "cancel", index: 0, begin: 16384, length: 16384 },
    { type: "cancel", index: 0, begin: 32768, length: 7232 },
  ]);
  assert.equal(d.pipeline.outstanding, 0);
  d.add(1);
  d.requests();
  assert.equal(d.pipeline.stalled(d.pipeline.lastBlock + 1000, 500), true);
  assert.equal(d.pipeline.stalled(d.pipeline.lastBlock + 100, 500), false);
  d.drop();
  assert.equal(
    d.pipeline.stalled(d.pipeline.lastBlock + 1000, 500),
    false,
    "nothing outstanding after a choke",
  );
});

Deno.test("PieceDownloads asks a rejected block once more, after the others, and reports a second reject", () => {
  const d = new PieceDownloads(TORRENT, 10);
  d.add(2);
  d.requests();
  assert.equal(d.reject(2, 0, 3616), true, "a reject of the wrong length is ignored");
  assert.equal(d.reject(1, 0, 16384), true, "a reject for a piece not assigned is ignored");
  assert.equal(d.pipeline.outstanding, 2);
  assert.equal(d.reject(2, 0, 16384), true);
  assert.equal(d.pipeline.outstanding, 1);
  assert.equal(d.block(2, 0, new Uint8Array(16384)), undefined, "a block after its reject is not taken");
  assert.deepEqual(frames(d.requests()), [{ type: "request", index: 2, begin: 0, length: 16384 }]);
  assert.equal(d.reject(2, 0, 16384), false, "rejected twice");
});

Deno.test("PieceDownloads cancels a piece without cancelling blocks that were rejected", () => {
  const d = new PieceDownloads(TORRENT, 10);
  d.add(0);
  d.requests();
  d.reject(0, 16384, 16384);
  assert.deepEqual(frames(d.cancel(0)).map((m) => m.type === "cancel" && m.begin), [0, 32768]);
  assert.equal(d.pipeline.outstanding, 0);
});

type Request = Extract<Message, { type: "request" }>;

/** A peer `rttMs` away that sends `blocksPerMs`, driving `d` on a fake clock for `ms`; returns the depths seen. */
function simulate(d: PieceDownloads, clock: { t: number }, rttMs: number, blocksPerMs: number, ms: number) {
  const inFlight: { due: number; r: Request }[] = [];
  const depths: number[] = [];
  let next = 0;
  for (const end = clock.t + ms; clock.t < end; clock.t++) {
    while (d.pieces < d.wantedPieces) d.add(next++);
    for (const r of frames(d.requests()) as Request[]) inFlight.push({ due: clock.t + rttMs, r });
    // The link carries `blocksPerMs`; a block arrives a round trip after its request at the earliest.
    for (let k = 0; k < blocksPerMs && inFlight.length > 0 && inFlight[0].due <= clock.t; k++) {
      const { r } = inFlight.shift()!;
      d.block(r.index, r.begin, new Uint8Array(r.length));
    }
    depths.push(d.pipeline.depth);
  }
  return depths;
}

Deno.test("PieceDownloads sizes its pipeline to twice the bandwidth-delay product, within its bounds", () => {
  const big = { pieceLength: 1 << 20, pieceCount: 1 << 16, totalLength: 2 ** 36 };
  // 100 ms away, 2 blocks per ms (32 MB/s): the product is 200 blocks, the pipeline grows to about 400.
  const clock = { t: 0 };
  const far = new PieceDownloads(big, 512, () => clock.t);
  assert.equal(far.pipeline.depth, START_DEPTH);
  simulate(far, clock, 100, 2, 3000);
  assert.equal(far.pipeline.rttMs, 100);
  assert(far.pipeline.depth >= 380 && far.pipeline.depth <= 420, `depth ${far.pipeline.depth}`);
  assert.equal(
    far.wantedPieces,
    Math.ceil((far.pipeline.depth * 16384) / (1 << 20)) + 1,
    "pieces for those blocks",
  );
  // 1 ms away at the same rate: the floor (4 MiB in flight) is more than enough, and it stays there.
  clock.t = 0;
  const near = new PieceDownloads(big, 512, () => clock.t);
  const seen = simulate(near, clock, 1, 2, 3000);
  assert.deepEqual([...new Set(seen)], [START_DEPTH]);
  // The same far peer, bounded by our cap and then by its reqq.
  clock.t = 0;
  const capped = new PieceDownloads(big, 100, () => clock.t);
  simulate(capped, clock, 100, 2, 3000);
  assert.equal(capped.pipeline.depth, 100);
  assert(capped.pipeline.outstanding > 40 && capped.pipeline.outstanding <= 100);
  capped.pipeline.limit(40);
  assert.deepEqual([capped.pipeline.cap, capped.pipeline.depth], [40, 40]);
  assert.equal(capped.requests(), undefined, "over the peer's queue: nothing more until it drains");
});

Deno.test("PieceDownloads reuses a finished piece's bookkeeping without carrying its blocks over", () => {
  const d = new PieceDownloads(TORRENT, 10);
  d.add(2); // the short piece: two blocks
  d.requests();
  d.block(2, 0, new Uint8Array(16384).fill(1));
  assert.equal(bytesOf(d.block(2, 16384, new Uint8Array(3616).fill(2)))?.length, 20000);
  d.add(0); // three blocks: the two-block job is too small to reuse
  d.add(1);
  assert.deepEqual(frames(d.requests()).map((m) => m.type === "request" && [m.index, m.begin]), [
    [0, 0],
    [0, 16384],
    [0, 32768],
    [1, 0],
    [1, 16384],
    [1, 32768],
  ]);
  d.block(1, 0, new Uint8Array(16384));
  d.cancel(1); // gives its job back with block 0 received
  d.add(1);
  assert.equal(d.block(1, 0, new Uint8Array(16384)), undefined, "not requested again yet: ignored");
  const again = frames(d.requests());
  assert.deepEqual(
    again.map((m) => m.type === "request" && m.begin),
    [0, 16384, 32768],
    "all three asked again",
  );
  d.block(1, 0, new Uint8Array(16384).fill(5));
  d.block(1, 16384, new Uint8Array(16384).fill(6));
  const piece = bytesOf(d.block(1, 32768, new Uint8Array(7232).fill(7)));
  assert.deepEqual([piece![0], piece![16384], piece![39999]], [5, 6, 7]);
});
