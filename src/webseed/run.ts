/**
 * Fetching one run of consecutive pieces from a web seed: its range requests one after another, into piece
 * buffers from the pool, whole pieces handed over 4 MiB at a time as they complete.
 *
 * @module
 */

import { type Metainfo, pieceSize } from "../metainfo/metainfo.ts";
import { poolFor } from "../common/buffer_pool.ts";
import { fetchRange } from "./http.ts";
import { planRun, RunBuffer } from "./plan.ts";

/** A whole piece as fetched, not yet verified. */
export interface FetchedPiece {
  index: number;
  data: Uint8Array;
}

/**
 * Whole pieces of a run are handed over once this many bytes of them wait: the 4 MiB of a peer link's reports
 * (`link_reports.ts`), without their cap of 128 pieces, so pieces under 32 KiB go in larger batches here.
 * Holding a 16 MiB run until its end took (g), one web seed, to 94-95 MiB.
 */
const HAND_OVER_BYTES = 4 << 20;

/** One run to fetch: pieces `first` to `first + count - 1` of `meta` from the web seed at `url`. */
export interface RunInput {
  url: string;
  meta: Metainfo;
  first: number;
  count: number;
  idleTimeoutMs: number;
  /** Takes whole pieces before the run ends (the rest are the run's output). */
  deliver: (pieces: FetchedPiece[]) => void;
}

/** A fetched run: its last whole pieces (the others were delivered on the way) and its bytes. */
export interface RunOutput {
  pieces: FetchedPiece[];
  bytes: number;
}

/**
 * Fetches a run; throws a `WebSeedError` (after giving back to the pool the buffers not handed over). Nothing is
 * delivered once `signal` is aborted.
 */
export async function fetchRunPieces(
  { url, meta, first, count, idleTimeoutMs, deliver }: RunInput,
  signal: AbortSignal,
): Promise<RunOutput> {
  const plan = planRun(url, meta, first, count);
  const pool = poolFor(meta.pieceLength);
  const sizes = Array.from({ length: count }, (_, k) => pieceSize(meta, first + k));
  const run = new RunBuffer(meta.pieceLength, sizes, () => pool.take());
  let waiting: FetchedPiece[] = [];
  let waitingBytes = 0;
  const collect = () => {
    for (const [k, data] of run.takeComplete()) {
      waiting.push({ index: first + k, data });
      waitingBytes += data.length;
    }
  };
  try {
    for (const z of plan.zeros) run.zero(z.at, z.length);
    for (const req of plan.requests) {
      await fetchRange(req, (at, bytes) => {
        run.write(req.at + at, bytes);
        collect();
        if (waitingBytes < HAND_OVER_BYTES || signal.aborted) return;
        deliver(waiting);
        waiting = [];
        waitingBytes = 0;
      }, { signal, idleTimeoutMs });
    }
    collect();
  } catch (e) {
    for (const piece of [...waiting.map((p) => p.data), ...run.leftovers()]) pool.give(piece);
    throw e;
  }
  return { pieces: waiting, bytes: plan.length };
}
