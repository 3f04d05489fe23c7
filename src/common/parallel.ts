/** Running an async job over many items, a bounded number at a time. @module */

/** Runs `fn` on every item, at most `limit` at once; rejects with the first error once the running ones end. */
export async function inParallel<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>) {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
