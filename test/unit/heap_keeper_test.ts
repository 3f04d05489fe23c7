import assert from "node:assert/strict";
import v8 from "node:v8";
import { exposeCollector, HeapKeeper, type HeapSizes, heapSizes } from "../../cli/heap_keeper.ts";

const MiB = 1024 * 1024;
const limits = { young: 4 * MiB, oldGrowth: 8 * MiB, gapMs: 1000, hashers: 100 };

/** A heap that reports what the test sets, and shrinks to `after` when collected (the hashers made stay made). */
function fakeHeap(start: HeapSizes, after: HeapSizes) {
  const heap = { now: { ...start }, collected: 0, ms: 0 };
  const collect = () => {
    heap.collected++;
    heap.now = { ...after, hashers: heap.now.hashers };
  };
  return { heap, keeper: new HeapKeeper(collect, () => heap.now, limits, () => heap.ms) };
}

Deno.test("heap keeper: a heap within its limits is left alone", () => {
  const { heap, keeper } = fakeHeap({ young: 2 * MiB, old: 10 * MiB, hashers: 0 }, {
    young: 2 * MiB,
    old: 10 * MiB,
    hashers: 0,
  });
  heap.now = { young: 4 * MiB, old: 17 * MiB, hashers: 0 };
  assert.equal(keeper.check(), false);
  assert.equal(heap.collected, 0);
});

Deno.test("heap keeper: a young generation grown past its limit is collected", () => {
  const { heap, keeper } = fakeHeap({ young: 2 * MiB, old: 10 * MiB, hashers: 0 }, {
    young: 2 * MiB,
    old: 10 * MiB,
    hashers: 0,
  });
  heap.now = { young: 8 * MiB, old: 10 * MiB, hashers: 0 };
  assert.equal(keeper.check(), true);
  assert.deepEqual([heap.collected, keeper.collections], [1, 1]);
  heap.ms += 1000; // past the gap: only the sizes decide
  assert.equal(keeper.check(), false, "collected down to its limit: nothing more to do");
});

Deno.test("heap keeper: old-generation growth is measured from the last collection", () => {
  const { heap, keeper } = fakeHeap({ young: 2 * MiB, old: 10 * MiB, hashers: 0 }, {
    young: 2 * MiB,
    old: 14 * MiB,
    hashers: 0,
  });
  heap.now = { young: 2 * MiB, old: 19 * MiB, hashers: 0 };
  assert.equal(keeper.check(), true);
  heap.ms += 1000;
  heap.now = { young: 2 * MiB, old: 21 * MiB, hashers: 0 }; // 7 MiB over what the collection left: not yet
  assert.equal(keeper.check(), false);
  heap.now = { young: 2 * MiB, old: 23 * MiB, hashers: 0 };
  assert.equal(keeper.check(), true);
  assert.equal(heap.collected, 2);
});

Deno.test("heap keeper: never collects twice within its gap, however large the heap", () => {
  const { heap, keeper } = fakeHeap({ young: 2 * MiB, old: 10 * MiB, hashers: 0 }, {
    young: 8 * MiB,
    old: 10 * MiB,
    hashers: 0,
  });
  heap.now = { young: 8 * MiB, old: 10 * MiB, hashers: 0 };
  assert.equal(keeper.check(), true);
  heap.ms += 999;
  assert.equal(keeper.check(), false, "999 ms after the last");
  heap.ms += 1;
  assert.equal(keeper.check(), true);
  assert.equal(heap.collected, 2);
});

Deno.test("heap keeper: enough SHA-1 hashers made bring a collection even within the gap, counted from the last", () => {
  const small = { young: 2 * MiB, old: 10 * MiB };
  const { heap, keeper } = fakeHeap({ ...small, hashers: 5 }, { ...small, hashers: 5 });
  heap.now = { ...small, hashers: 104 };
  assert.equal(keeper.check(), false, "99 made since the keeper began: not yet");
  heap.now = { ...small, hashers: 105 };
  assert.equal(keeper.check(), true);
  heap.ms += 10;
  heap.now = { ...small, hashers: 204 };
  assert.equal(keeper.check(), false, "99 since the collection, and within the gap");
  heap.now = { ...small, hashers: 205 };
  assert.equal(keeper.check(), true, "100 since the collection: the gap does not hold it back");
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
