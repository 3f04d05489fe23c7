/**
 * The web seed actor (BEP 19): one HTTP(S) server that has every piece, seen by the coordinator as a peer that
 * fetches runs of consecutive pieces.
 *
 *   idle ⇄ requesting ──busy or broken──→ backingOff ──→ idle
 *     └────────┴────── 404, too many failures or strikes ──→ failed (final)
 *
 * `requesting` fetches one run (a few MiB, sized to what the server delivers in about a second) with range
 * requests, file by file; its whole pieces go to the coordinator like a peer's, 4 MiB at a time as they arrive,
 * and the verifier strikes it when one fails the hash. While it backs off (503 and 429 for `Retry-After`, else
 * doubling) its pieces go to others.
 *
 * @module
 */

import { type AnyActorRef, assign, enqueueActions, fromPromise, sendParent, setup } from "xstate";
import { Bitfield } from "../src/common/bitfield.ts";
import type { Metainfo } from "../src/metainfo/metainfo.ts";
import type { WebSeedError } from "../src/webseed/http.ts";
import { type FetchedPiece, fetchRunPieces, type RunInput, type RunOutput } from "../src/webseed/run.ts";
import type { CoordinatorOrder } from "./coordinator.ts";

export type { FetchedPiece, RunInput, RunOutput };

/** How a web seed behaves. */
export interface WebSeedOptions {
  /** First back-off after a failure without `Retry-After` (default 2 s); it doubles up to `maxRetryMs`. */
  retryMs?: number;
  /** The longest back-off (default 5 min), `Retry-After` included. */
  maxRetryMs?: number;
  /** Failures in a row before the web seed is given up (default 5). */
  maxFailures?: number;
  /** Pieces that failed the hash before it is dropped (default 3). */
  maxStrikes?: number;
  /** Time without a byte of an answer before a request fails (default 30 s). */
  idleTimeoutMs?: number;
}

export interface WebSeedInput {
  /** The URL from the torrent: also the web seed's key in the swarm. */
  url: string;
  meta: Metainfo;
  coordinator: AnyActorRef;
  options?: WebSeedOptions;
}

export interface WebSeedContext {
  key: string;
  meta: Metainfo;
  coordinator: AnyActorRef;
  options: Required<WebSeedOptions>;
  /** Pieces assigned and not yet requested, in the order given. */
  queue: number[];
  /** The run being fetched. */
  run?: { first: number; count: number; startedAt: number };
  /** Bytes a run aims at: what the server delivered in about a second, a piece to 16 MiB. */
  runBytes: number;
  /** Whole pieces it gave us. */
  pieces: number;
  /** Payload bytes per second of the last run (`up` is always 0). */
  rates: { down: number; up: number };
  failures: number;
  strikes: number;
  /** The next back-off. */
  retryMs: number;
  lastError?: string;
  reason?: string;
  since: number;
}

/** What the swarm may tell a web seed. */
export type WebSeedCommand = { type: "strike" } | { type: "close" };

/** Whole pieces of the run being fetched, handed over before the run ends. */
interface RunPieces {
  type: "run.pieces";
  pieces: FetchedPiece[];
}

/** What a web seed tells the swarm when it ends. */
export interface WebSeedClosed {
  type: "webseed.closed";
  key: string;
  reason: string;
}

const MAX_RUN_BYTES = 16 << 20;

/** Fetches a run of pieces from the web seed (`src/webseed/run.ts`), handing whole ones over on the way. */
export const fetchRun = fromPromise<RunOutput, RunInput>(({ input, signal }) =>
  fetchRunPieces(input, signal)
);

/** The longest run of consecutive pieces at the head of `queue`, at most `maxCount`. */
function headRun(queue: number[], maxCount: number): { first: number; count: number } {
  let count = 1;
  while (count < queue.length && count < maxCount && queue[count] === queue[0] + count) count++;
  return { first: queue[0], count };
}

const runPieces = (ctx: WebSeedContext) => Math.max(1, Math.floor(ctx.runBytes / ctx.meta.pieceLength));

/** One web seed: idle ⇄ requesting → backingOff → idle, or failed. */
export const webSeedMachine = setup({
  types: {
    context: {} as WebSeedContext,
    input: {} as WebSeedInput,
    events: {} as CoordinatorOrder | WebSeedCommand | RunPieces,
  },
  actors: { fetchRun },
  delays: {
    backOff: ({ context }) => context.retryMs,
  },
  actions: {
    markTime: assign({ since: () => Date.now() }),
    /** Tells the coordinator something about this web seed, as a peer would. */
    tell: enqueueActions(
      (
        { context: { coordinator, key }, enqueue },
        { type }: { type: "peer.choked" | "peer.ready" | "peer.gone" },
      ) => enqueue.sendTo(coordinator, { type, key }),
    ),
    /** Introduces it to the coordinator as a peer with every piece that is ready at once. */
    hello: enqueueActions(({ context: { key, meta, coordinator }, enqueue, self }) => {
      enqueue.sendTo(coordinator, { type: "peer.hello", key, ref: self, runs: true });
      enqueue.sendTo(coordinator, {
        type: "peer.bitfield",
        key,
        bitfield: Bitfield.filled(meta.pieceCount, true),
      });
      enqueue.sendTo(coordinator, { type: "peer.ready", key });
    }),
    enqueue: assign({
      queue: ({ context, event }) =>
        event.type === "assign" ? [...context.queue, ...event.indices] : context.queue,
    }),
    dropCancelled: assign({
      queue: ({ context, event }) =>
        event.type === "cancel" ? context.queue.filter((i) => i !== event.index) : context.queue,
    }),
    /** Hands whole pieces to the coordinator, asking for a run in flight and one queued. */
    handOver: enqueueActions(({ context, enqueue }, pieces: FetchedPiece[]) => {
      enqueue.assign({ pieces: context.pieces + pieces.length });
      enqueue.sendTo(context.coordinator, {
        type: "peer.pieces",
        key: context.key,
        pieces,
        want: 2 * runPieces(context),
      });
    }),
    takeRun: assign(({ context }) => {
      const { first, count } = headRun(context.queue, runPieces(context));
      return { queue: context.queue.slice(count), run: { first, count, startedAt: Date.now() } };
    }),
  },
  guards: {
    queued: ({ context }) => context.queue.length > 0,
  },
}).createMachine({
  id: "webSeed",
  context: ({ input }) => {
    const options = {
      retryMs: 2000,
      maxRetryMs: 300_000,
      maxFailures: 5,
      maxStrikes: 3,
      idleTimeoutMs: 30_000,
      ...input.options,
    };
    return {
      key: input.url,
      meta: input.meta,
      coordinator: input.coordinator,
      options,
      queue: [],
      runBytes: Math.max(input.meta.pieceLength, 4 << 20),
      pieces: 0,
      rates: { down: 0, up: 0 },
      failures: 0,
      strikes: 0,
      retryMs: options.retryMs,
      since: Date.now(),
    };
  },
  entry: "hello",
  on: {
    "assign": { actions: "enqueue" },
    "cancel": { actions: "dropCancelled" },
    "strike": [
      {
        guard: ({ context }) => context.strikes + 1 >= context.options.maxStrikes,
        target: ".failed",
        actions: assign({
          strikes: ({ context }) => context.strikes + 1,
          reason: ({ context }) => `dropped after ${context.options.maxStrikes} pieces failed the hash`,
        }),
      },
      { actions: assign({ strikes: ({ context }) => context.strikes + 1 }) },
    ],
    "close": { target: ".failed", actions: assign({ reason: "closed by us" }) },
  },
  initial: "idle",
  states: {
    idle: {
      entry: "markTime",
      always: { guard: "queued", target: "requesting" },
    },
    requesting: {
      entry: ["markTime", "takeRun"],
      on: {
        "run.pieces": { actions: { type: "handOver", params: ({ event }) => event.pieces } },
      },
      invoke: {
        src: "fetchRun",
        input: ({ context, self }) => ({
          url: context.key,
          meta: context.meta,
          first: context.run!.first,
          count: context.run!.count,
          idleTimeoutMs: context.options.idleTimeoutMs,
          deliver: (pieces: FetchedPiece[]) => self.send({ type: "run.pieces", pieces }),
        }),
        onDone: {
          target: "idle",
          actions: [
            assign(({ context, event }) => {
              const seconds = Math.max(0.001, (Date.now() - context.run!.startedAt) / 1000);
              const down = event.output.bytes / seconds;
              return {
                rates: { down, up: 0 },
                runBytes: Math.min(MAX_RUN_BYTES, Math.max(context.meta.pieceLength, down)),
                failures: 0,
                retryMs: context.options.retryMs,
                run: undefined,
              };
            }),
            { type: "handOver", params: ({ event }) => event.output.pieces },
          ],
        },
        onError: [
          {
            guard: ({ event }) => (event.error as WebSeedError).kind === "gone",
            target: "failed",
            actions: assign({ reason: ({ event }) => (event.error as Error).message }),
          },
          {
            guard: ({ context }) => context.failures + 1 >= context.options.maxFailures,
            target: "failed",
            actions: assign({
              reason: ({ context, event }) =>
                `${context.options.maxFailures} failures in a row, the last: ${
                  (event.error as Error).message
                }`,
            }),
          },
          {
            target: "backingOff",
            actions: assign(({ context, event }) => {
              const error = event.error as WebSeedError;
              const wait = error.retryAfterMs ?? context.retryMs;
              return {
                failures: context.failures + 1,
                lastError: error.message,
                retryMs: Math.min(context.options.maxRetryMs, wait),
                run: undefined,
              };
            }),
          },
        ],
      },
    },
    backingOff: {
      // Its pieces go to others meanwhile; it is ready again after the wait.
      entry: [
        "markTime",
        assign({ queue: [], rates: { down: 0, up: 0 } }),
        { type: "tell", params: { type: "peer.choked" } },
      ],
      after: {
        backOff: {
          target: "idle",
          actions: [
            { type: "tell", params: { type: "peer.ready" } },
            assign({
              retryMs: ({ context }) => Math.min(context.options.maxRetryMs, context.retryMs * 2),
            }),
          ],
        },
      },
    },
    failed: {
      type: "final",
      entry: [
        "markTime",
        { type: "tell", params: { type: "peer.gone" } },
        sendParent(({ context }) => ({
          type: "webseed.closed",
          key: context.key,
          reason: context.reason ?? "closed",
        } satisfies WebSeedClosed)),
      ],
    },
  },
});
