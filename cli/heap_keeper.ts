/**
 * Keeps the V8 heap of a running download or seed near its working size, so the plain `deno run -A mod.ts …`
 * needs no V8 flag to stay small.
 *
 * V8 doubles its young generation whenever the bytes surviving its scavenges outgrow it (a download keeps blocks,
 * pieces and packets alive for milliseconds, long enough to survive one), and gives it back only at a full
 * collection. A download allocates without pause, so V8 rarely starts one on its own: measured in bench scenario
 * (c), the young generation grew to 20 MiB within six seconds, and in (k) the old generation from 10 to 20 MiB
 * (Deno's `node:dgram` leaves something old-generation behind for every datagram it receives). The keeper looks at
 * the heap's spaces twice a second and runs a full collection when the young generation is over 2 MiB or the
 * old one has grown by 8 MiB since the last, at most once a second: a few collections in a download, none at rest.
 * It also counts the `node:crypto` SHA-1 hashers made (`sha1HashersMade`): each leaves a few hundred bytes of
 * native memory that only a full collection frees and that V8's statistics do not show. Pieces of 16 KiB make
 * about 25,000 a second in bench scenario (c), so 8,192 of them bring a collection even within the second.
 *
 * The collector comes from `--expose-gc`, set at run time: V8 installs `gc` only in contexts made after the flag,
 * so one `node:vm` context is made to fetch it (about 1 MiB). Where that fails, the keeper does nothing.
 *
 * @module
 */

import v8 from "node:v8";
import vm from "node:vm";
import { sha1HashersMade } from "../src/common/bytes.ts";

/** Sizes the keeper watches, in bytes. */
export interface HeapSizes {
  /** Committed size of the young generation (both semi-spaces). */
  young: number;
  /** Bytes in use in the old generation and the large-object space. */
  old: number;
  /** SHA-1 hashers made so far by `newSha1` (a count that only grows). */
  hashers: number;
}

/** When to collect. */
export interface HeapLimits {
  /** Collect when the young generation is larger than this. */
  young: number;
  /** Collect when the old generation has grown by this much since the last collection (or the start). */
  oldGrowth: number;
  /** Never collect again sooner than this many milliseconds after the last collection began, unless... */
  gapMs: number;
  /** ...this many hashers were made since the last collection (only the check's own interval paces these). */
  hashers: number;
}

const MiB = 1024 * 1024;

/**
 * Young generation over 2 MiB (V8's own start), or 8 MiB more old generation, at most once a second: a full
 * collection of a download's heap takes 13-45 ms here, and a download of (a) or (c) needed 2-8 of them. Or 8,192
 * hashers (about 3 MiB of native memory): (c), 1 GiB in 16 KiB pieces, then ran four in one download (the checks
 * come every half second).
 */
export const DEFAULT_LIMITS: HeapLimits = { young: 2 * MiB, oldGrowth: 8 * MiB, gapMs: 1000, hashers: 8192 };

/** The heap's sizes now, from V8's space statistics (about 15 µs). */
export function heapSizes(): HeapSizes {
  let young = 0, old = 0;
  for (const space of v8.getHeapSpaceStatistics()) {
    if (space.space_name === "new_space") young = space.space_size;
    else if (space.space_name === "old_space" || space.space_name === "large_object_space") {
      old += space.space_used_size;
    }
  }
  return { young, old, hashers: sha1HashersMade() };
}

/** V8's full collection, or undefined where this runtime will not expose it. */
export function exposeCollector(): (() => void) | undefined {
  try {
    v8.setFlagsFromString("--expose-gc");
    const gc = vm.runInNewContext("gc");
    return typeof gc === "function" ? () => gc() : undefined;
  } catch {
    return undefined;
  }
}

/** Runs a full collection when the heap has outgrown its limits; counts what it did. */
export class HeapKeeper {
  /** Full collections run. */
  collections = 0;
  /** Milliseconds spent in them. */
  collectingMs = 0;
  #oldBase: number;
  #lastAt = -Infinity;
  #hashersBase: number;

  constructor(
    private readonly collect: () => void,
    private readonly sizes: () => HeapSizes = heapSizes,
    private readonly limits: HeapLimits = DEFAULT_LIMITS,
    private readonly clock: () => number = () => performance.now(),
  ) {
    ({ old: this.#oldBase, hashers: this.#hashersBase } = sizes());
  }

  /**
   * Collects if the heap is over its limits and the last collection is long enough ago, or if enough hashers were
   * made since it; true when it did.
   */
  check(): boolean {
    const started = this.clock();
    const now = this.sizes();
    if (now.hashers - this.#hashersBase < this.limits.hashers) {
      if (started - this.#lastAt < this.limits.gapMs) return false;
      if (now.young <= this.limits.young && now.old <= this.#oldBase + this.limits.oldGrowth) return false;
    }
    this.#lastAt = started;
    this.collect();
    this.collectingMs += this.clock() - started;
    this.collections++;
    ({ old: this.#oldBase, hashers: this.#hashersBase } = this.sizes());
    return true;
  }

  /** Checks every `intervalMs` without keeping the process alive; returns the stop. */
  start(intervalMs = 500): () => void {
    const timer = setInterval(() => this.check(), intervalMs);
    Deno.unrefTimer(timer);
    return () => clearInterval(timer);
  }
}

/** Starts a keeper on V8's own collector (none where the collector is out of reach), and its stop. */
export function keepHeapSmall(): { keeper?: HeapKeeper; stop: () => void } {
  const collect = exposeCollector();
  if (!collect) return { stop: () => {} };
  const keeper = new HeapKeeper(collect);
  return { keeper, stop: keeper.start() };
}
