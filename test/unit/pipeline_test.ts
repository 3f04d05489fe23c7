/** The request pipeline on a fake clock: depth from rate × round trip, slow start, the round-trip window, caps. */

import assert from "node:assert/strict";
import { MAX_DEPTH, piecesFor, Pipeline, START_DEPTH } from "../../src/peer/pipeline.ts";

const BLOCK = 16384;

/**
 * A simulated peer for `p`: `run(rttMs, blocksPerMs, ms)` lets time pass, a millisecond at a time; each ms the
 * pipeline's room goes out as one batch, and the blocks whose round trip is over come back, as many as the link
 * carries. Requests still on the wire carry over to the next run. Returns the depth after each ms.
 */
function peer(p: Pipeline, clock: { t: number }) {
  const due: number[] = []; // when each outstanding request's block can arrive, oldest first
  return (rttMs: number, blocksPerMs: number, ms: number): number[] => {
    const depths: number[] = [];
    for (const end = clock.t + ms; clock.t < end; clock.t++) {
      const n = p.room();
      if (n > 0) {
        p.sent(n);
        for (let i = 0; i < n; i++) due.push(clock.t + rttMs);
      }
      for (let k = 0; k < blocksPerMs && due.length > 0 && due[0] <= clock.t; k++) {
        due.shift();
        p.block(BLOCK);
      }
      depths.push(p.depth);
    }
    return depths;
  };
}

function drive(p: Pipeline, clock: { t: number }, rttMs: number, blocksPerMs: number, ms: number): number[] {
  return peer(p, clock)(rttMs, blocksPerMs, ms);
}

Deno.test("Pipeline: a far, fast peer deepens it to twice the bandwidth-delay product", () => {
  const clock = { t: 0 };
  const p = new Pipeline(MAX_DEPTH, () => clock.t);
  assert.equal(p.depth, START_DEPTH);
  drive(p, clock, 100, 2, 3000); // 100 ms, 2 blocks a ms (32 MB/s): the product is 200 blocks
  assert.equal(p.rttMs, 100);
  assert(p.rate > 30e6 && p.rate < 34e6, `rate ${p.rate}`);
  assert(p.depth >= 380 && p.depth <= 420, `depth ${p.depth}`);
  assert(p.received >= 2 * 2890 * BLOCK, "the link is kept busy after the first round trip");
});

Deno.test("Pipeline: a near peer keeps the floor; a shorter queue at the peer caps it", () => {
  const clock = { t: 0 };
  const near = new Pipeline(MAX_DEPTH, () => clock.t);
  assert.deepEqual([...new Set(drive(near, clock, 1, 2, 2000))], [START_DEPTH]);
  clock.t = 0;
  const capped = new Pipeline(100, () => clock.t);
  drive(capped, clock, 100, 2, 2000);
  assert.equal(capped.depth, 100);
  capped.limit(40);
  assert.deepEqual([capped.cap, capped.depth, capped.room()], [40, 40, 0], "over the peer's queue: wait");
});

Deno.test("Pipeline: slow start doubles the depth within a few round trips while it limits the rate", () => {
  const clock = { t: 0 };
  const p = new Pipeline(4096, () => clock.t);
  const depths = drive(p, clock, 200, 8, 1500); // 200 ms at 128 MB/s: the product is 3,200 blocks
  const at = (ms: number) => depths[ms - 1];
  assert(at(700) > 2 * START_DEPTH, `after three round trips: ${at(700)}`);
  assert(at(1500) >= 2000, `after seven: ${at(1500)}`);
  assert(p.wanted >= p.depth, "pieces are held for the growth to come");
});

Deno.test("Pipeline: the round trip follows a path that got longer, after the 10 s window", () => {
  const clock = { t: 0 };
  const p = new Pipeline(MAX_DEPTH, () => clock.t);
  const run = peer(p, clock);
  run(20, 1, 5000);
  assert.equal(p.rttMs, 20);
  run(80, 1, 4000);
  assert.equal(p.rttMs, 20, "the shortest of the window stands for now");
  run(80, 1, 12_000);
  assert(p.rttMs >= 80, `rtt ${p.rttMs}`);
});

Deno.test("Pipeline: refills come in batches of a quarter; forgotten requests free room; stalls are seen", () => {
  const clock = { t: 0 };
  const p = new Pipeline(8, () => clock.t);
  assert.equal(p.room(), 8);
  p.sent(8);
  p.block(BLOCK);
  assert.equal(p.room(), 0, "one free place: less than a quarter");
  p.forget(1);
  assert.equal(p.room(), 2, "a cancelled request frees its place");
  assert.equal(p.stalled(clock.t + 31_000, 30_000), true);
  p.clear();
  assert.equal(p.stalled(clock.t + 31_000, 30_000), false, "nothing outstanding after a choke");
  assert.equal(piecesFor(START_DEPTH, 1 << 20), 5, "4 MiB of blocks in 1 MiB pieces, and one more");
});
