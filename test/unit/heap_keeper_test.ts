import assert from "node:assert/strict";
import v8 from "node:v8";
import { exposeCollector, HeapKeeper, type HeapSizes, heapSizes } from "../../cli/heap_keeper.ts";

const MiB = 1024 * 1024;
const limits = { young: 4 * MiB, oldGrowth: 8 * MiB, gapMs: 1000 };

/** A heap that reports what the test sets, and shrinks to `after` when collected. */
function fakeHeap(start: HeapSizes, after: HeapSizes) {
  const heap = { now: { ...start }, collected: 0, ms: 0 };
  const collect = () => {
    heap.collected++;
    heap.now = { ...after };
  };
  return { heap, keeper: new HeapKeeper(collect, () => heap.now, limits, () => heap.ms) };
}

Deno.test("heap keeper: a heap within its limits is left alone", () => {
  const { heap, keeper } = fakeHeap({ young: 2 * MiB, old: 10 * MiB }, { young: 2 * MiB, old: 10 * MiB });
  heap.now = { young: 4 * MiB, old: 17 * MiB };
  assert.equal(keeper.check(), false);
  assert.equal(heap.collected, 0);
});

Deno.test("heap keeper: a young generation grown past its limit is collected", () => {
  const { heap, keeper } = fakeHeap({ young: 2 * MiB, old: 10 * MiB }, { young: 2 * MiB, old: 10 * MiB });
  heap.now = { young: 8 * MiB, old: 10 * MiB };
  assert.equal(keeper.check(), true);
  assert.deepEqual([heap.collected, keeper.collections], [1, 1]);
  heap.ms += 1000; // past the gap: only the sizes decide
  assert.equal(keeper.check(), false, "collected down to its limit: nothing more to do");
});

Deno.test("heap keeper: old-generation growth is measured from the last collection", () => {
  const { heap, keeper } = fakeHeap({ young: 2 * MiB, old: 10 * MiB }, { young: 2 * MiB, old: 14 * MiB });
  heap.now = { young: 2 * MiB, old: 19 * MiB };
  assert.equal(keeper.check(), true);
  heap.ms += 1000;
  heap.now = { young: 2 * MiB, old: 21 * MiB }; // 7 MiB over what the collection left: not yet
  assert.equal(keeper.check(), false);
  heap.now = { young: 2 * MiB, old: 23 * MiB };
  assert.equal(keeper.check(), true);
  assert.equal(heap.collected, 2);
});

Deno.test("heap keeper: never collects twice within its gap, however large the heap", () => {
  const { heap, keeper } = fakeHeap({ young: 2 * MiB, old: 10 * MiB }, { young: 8 * MiB, old: 10 * MiB });
  heap.now = { young: 8 * MiB, old: 10 * MiB };
  assert.equal(keeper.check(), true);
  heap.ms += 999;
  assert.equal(keeper.check(), false, "999 ms after the last");
  heap.ms += 1;
  assert.equal(keeper.check(), true);
  assert.equal(heap.collected, 2);
});

Deno.test("heap keeper: the collector it exposes frees garbage", () => {
  const collect = exposeCollector();
  assert.ok(collect, "V8's gc is reachable at run time");
  const used = () => v8.getHeapStatistics().used_heap_size;
  collect();
  const before = used();
  let garbage: { n: number; s: string }[] | undefined = [];
  for (let i = 0; i < 300_000; i++) garbage.push({ n: i, s: `item ${i}` });
  const full = used();
  assert.ok(full > before + 8 * MiB, `the garbage is on the heap (${before} → ${full})`);
  garbage = undefined;
  collect();
  const after = used();
  assert.ok(after < full - 8 * MiB, `collected: ${full} → ${after}`);
  assert.equal(garbage, undefined);
  const sizes = heapSizes();
  assert.ok(
    sizes.young > 0 && sizes.old > MiB,
    `V8 names the spaces the keeper reads: ${JSON.stringify(sizes)}`,
  );
});
