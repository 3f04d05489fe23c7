/**
 * The supervisor: one torrent's lifecycle.
 *
 *   checking → running → completing → done
 *       │          └──────→ stopping → stopped   (stop: announce `stopped`)
 *       └──────────┴──────→ failed               (disk error, no peers in time)
 *
 * In `running` it invokes the coordinator (pieces), the tracker actor (peers) and a one-second tick, keeps an
 * address book of every peer it has heard of, and spawns one peer actor per address up to `maxPeers`, reconnecting
 * with back-off and never again to a banned peer.
 *
 * @module
 */

import { type AnyActorRef, assign, enqueueActions, fromCallback, fromPromise, raise, setup } from "xstate";
import type { Bitfield } from "../src/bitfield.ts";
import { checkPieces } from "../src/check.ts";
import type { Metainfo } from "../src/metainfo.ts";
import type { ResumeStore } from "../src/resume.ts";
import type { Storage } from "../src/storage.ts";
import type { AnnounceParams, PeerAddress } from "../src/tracker.ts";
import { coordinatorHave, coordinatorMachine, coordinatorStats, type Stats } from "./coordinator.ts";
import { type PeerClosed, peerMachine, type PeerTimeouts } from "./peer.ts";
import { announceEvent, trackerActor, type TrackerEvent } from "./tracker.ts";

export interface TorrentInput {
  meta: Metainfo;
  peerId: Uint8Array;
  /** Port announced to trackers. */
  port: number;
  /** Opens the torrent's storage; `existed` asks for a check of the data already there. */
  openStorage: (meta: Metainfo) => Promise<{ storage: Storage; existed: boolean }>;
  maxPeers?: number;
  /** Peers to dial besides those the trackers give. */
  peers?: PeerAddress[];
  /** Give up when no peer has been connected for this long. */
  noPeersTimeoutMs?: number;
  trackerTimeoutMs?: number;
  /** First retry delay after a failed announce; doubles up to five minutes. */
  trackerRetryMs?: number;
  timeouts?: Partial<PeerTimeouts>;
  /** Strikes (pieces that failed the hash) before a peer is banned. */
  maxStrikes?: number;
  /** Keeps the verified-piece hint across clean restarts. */
  resume?: ResumeStore;
  /** Hash all existing data even when the resume record vouches for it. */
  forceCheck?: boolean;
}

/** Everything the supervisor knows about one address. */
export interface AddressEntry {
  host: string;
  port: number;
  failures: number;
  retryAt: number;
  strikes: number;
  banned: boolean;
  lastReason?: string;
}

interface Context {
  input: TorrentInput;
  maxPeers: number;
  storage?: Storage;
  have?: Bitfield;
  book: Map<string, AddressEntry>;
  active: Set<string>;
  lastPeerAt: number;
  lastTrackerError?: string;
  /** What the trackers said last, for a person watching: peers, an error or a warning. */
  trackerStatus?: string;
  error?: string;
  stats?: Stats;
}

type Event =
  | TrackerEvent
  | PeerClosed
  | { type: "peer.strike"; key: string; index: number }
  | { type: "tick" }
  | { type: "connect" }
  | { type: "stop" };

/** `host:port`, with brackets around an IPv6 host. */
export function addressKey(a: PeerAddress): string {
  return a.host.includes(":") ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}

function isSelf(a: PeerAddress, port: number): boolean {
  return a.port === port && (a.host === "127.0.0.1" || a.host === "::1" || a.host === "localhost");
}

/** The most addresses the book keeps, whatever trackers send. */
export const MAX_ADDRESSES = 5000;

/**
 * Adds addresses to the book, skipping our own. When the book is full, a new address takes the place of one that
 * has failed and is not connected (banned ones stay, so they stay banned); with no such place it is dropped.
 */
export function addPeers(
  book: Map<string, AddressEntry>,
  active: Set<string>,
  peers: PeerAddress[],
  ourPort: number,
  max = MAX_ADDRESSES,
): void {
  for (const p of peers) {
    const key = addressKey(p);
    if (isSelf(p, ourPort) || book.has(key)) continue;
    if (book.size >= max) {
      const spare = [...book].find(([k, e]) => e.failures > 0 && !e.banned && !active.has(k));
      if (!spare) continue;
      book.delete(spare[0]);
    }
    book.set(key, { host: p.host, port: p.port, failures: 0, retryAt: 0, strikes: 0, banned: false });
  }
}

const ticker = fromCallback(({ sendBack }) => {
  const id = setInterval(() => sendBack({ type: "tick" }), 1000);
  return () => clearInterval(id);
});

export const torrentMachine = setup({
  types: {
    context: {} as Context,
    input: {} as TorrentInput,
    events: {} as Event,
    output: {} as { ok: boolean; error?: string; stats?: Stats },
  },
  actors: {
    coordinator: coordinatorMachine,
    peer: peerMachine,
    tracker: trackerActor,
    ticker,
    open: fromPromise<{ storage: Storage; have?: Bitfield }, { input: TorrentInput }>(
      async ({ input: { input } }) => {
        const { storage, existed } = await input.openStorage(input.meta);
        if (!existed) return { storage };
        const hint = input.forceCheck ? undefined : await input.resume?.load(input.meta);
        return { storage, have: hint ?? await checkPieces(input.meta, storage) };
      },
    ),
    finish: fromPromise<void, { ctx: Context; event?: "completed" | "stopped" }>(
      async ({ input: { ctx, event } }) => {
        try {
          await ctx.storage?.sync();
        } finally {
          ctx.storage?.close();
        }
        // Only after the data is flushed may the record vouch for it; a hint, so failing to write it is no error.
        if (ctx.have) await ctx.input.resume?.save(ctx.input.meta, ctx.have).catch(() => {});
        if (event) await announceEvent(ctx.input.meta.trackers, { ...announceParams(ctx), event });
      },
    ),
  },
  actions: {
    connectMore: enqueueActions(({ context, enqueue, system }) => {
      const coordinator = system.get("coordinator");
      if (!coordinator) return;
      const { meta, peerId, timeouts } = context.input;
      const now = Date.now();
      for (const [key, entry] of context.book) {
        if (context.active.size >= context.maxPeers) break;
        if (entry.banned || entry.retryAt > now || context.active.has(key)) continue;
        context.active.add(key);
        const link = {
          host: entry.host,
          port: entry.port,
          infoHash: meta.infoHash,
          peerId,
          pieceLength: meta.pieceLength,
          pieceCount: meta.pieceCount,
          totalLength: meta.totalLength,
        };
        enqueue.spawnChild("peer", { id: key, input: { key, coordinator, timeouts, link } });
      }
    }),
    stopPeers: enqueueActions(({ context, enqueue }) => {
      for (const key of context.active) enqueue.stopChild(key);
      context.active.clear();
    }),
  },
}).createMachine({
  id: "torrent",
  context: ({ input }) => ({
    input,
    maxPeers: input.maxPeers ?? 50,
    book: new Map(),
    active: new Set(),
    lastPeerAt: Date.now(),
  }),
  output: ({ context }) => ({ ok: context.error === undefined, error: context.error, stats: context.stats }),
  initial: "checking",
  states: {
    checking: {
      on: { stop: "stopping" },
      invoke: {
        src: "open",
        input: ({ context }) => ({ input: context.input }),
        onDone: {
          target: "running",
          actions: assign({
            storage: ({ event }) => event.output.storage,
            have: ({ event }) => event.output.have,
          }),
        },
        onError: {
          target: "failed",
          actions: assign({
            error: ({ event }) => `cannot open the output: ${(event.error as Error).message}`,
          }),
        },
      },
    },
    running: {
      entry: [
        assign({ lastPeerAt: () => Date.now() }),
        ({ context }) =>
          addPeers(context.book, context.active, context.input.peers ?? [], context.input.port),
        raise({ type: "connect" }, { delay: 0 }),
      ],
      exit: [
        assign({
          stats: ({ context, self }) =>
            coordinatorStats(self.getSnapshot().children.coordinator) ?? context.stats,
          have: ({ context, self }) =>
            coordinatorHave(self.getSnapshot().children.coordinator) ?? context.have,
        }),
        "stopPeers",
      ],
      invoke: [
        {
          id: "coordinator",
          systemId: "coordinator",
          src: "coordinator",
          input: ({ context }) => ({
            meta: context.input.meta,
            storage: context.storage!,
            have: context.have,
          }),
          onDone: [
            {
              guard: ({ event }) => event.output.error !== undefined,
              target: "failed",
              actions: assign({
                error: ({ event }) => event.output.error,
                stats: ({ event }) => event.output.stats,
              }),
            },
            { target: "completing", actions: assign({ stats: ({ event }) => event.output.stats }) },
          ],
        },
        {
          id: "tracker",
          src: "tracker",
          input: ({ context, self }) => ({
            trackers: context.input.meta.trackers,
            timeoutMs: context.input.trackerTimeoutMs,
            retryMs: context.input.trackerRetryMs,
            params: () => announceParams(context, self.getSnapshot().children.coordinator),
          }),
        },
        { src: "ticker" },
      ],
      on: {
        "stop": "stopping",
        "connect": { actions: "connectMore" },
        "tracker.peers": {
          actions: [
            ({ context, event }) => addPeers(context.book, context.active, event.peers, context.input.port),
            assign({ trackerStatus: ({ event }) => `${event.peers.length} peers from ${event.tracker}` }),
            "connectMore",
          ],
        },
        "tracker.error": {
          actions: assign({
            lastTrackerError: ({ event }) => event.message,
            trackerStatus: ({ event }) => `error: ${event.message} (retrying)`,
          }),
        },
        "tracker.warning": { actions: assign({ trackerStatus: ({ event }) => `warning: ${event.message}` }) },
        "peer.closed": {
          actions: enqueueActions(({ context, event, enqueue }) => {
            enqueue.stopChild(event.key);
            context.active.delete(event.key);
            const entry = context.book.get(event.key);
            if (entry) {
              entry.lastReason = event.reason;
              if (event.pieces > 0) entry.failures = 0;
              else entry.failures++;
              entry.retryAt = Date.now() + Math.min(2000 * 2 ** entry.failures, 300_000);
            }
            enqueue("connectMore");
          }),
        },
        "peer.strike": {
          actions: enqueueActions(({ context, event, enqueue }) => {
            const entry = context.book.get(event.key);
            if (!entry) return;
            entry.strikes++;
            if (entry.strikes >= (context.input.maxStrikes ?? 3) && !entry.banned) {
              entry.banned = true;
              if (context.active.has(event.key)) {
                enqueue.sendTo(event.key, {
                  type: "ban",
                  reason: `banned after ${entry.strikes} corrupt pieces`,
                });
              }
            }
          }),
        },
        "tick": {
          actions: [
            "connectMore",
            enqueueActions(({ context, enqueue, self }) => {
              const children = self.getSnapshot().children;
              const connected = [...context.active].some((k) =>
                (children[k]?.getSnapshot() as { matches?: (s: string) => boolean })?.matches?.("connected")
              );
              if (connected) {
                enqueue.assign({ lastPeerAt: Date.now() });
                return;
              }
              if (context.active.size < context.maxPeers) {
                enqueue.sendTo("tracker", { type: "tracker.announce" });
              }
              const timeout = context.input.noPeersTimeoutMs ?? 120_000;
              if (Date.now() - context.lastPeerAt > timeout) {
                const why = context.lastTrackerError
                  ? ` (last tracker error: ${context.lastTrackerError})`
                  : "";
                enqueue.assign({ error: `no peer connected for ${Math.round(timeout / 1000)} s${why}` });
                enqueue.raise({ type: "stop" });
              }
            }),
          ],
        },
      },
    },
    completing: {
      invoke: {
        src: "finish",
        // `completed` is announced by the session that completed the download, not by a rerun over complete data.
        input: ({ context }) => ({
          ctx: context,
          event: (context.stats?.receivedBytes ?? 0) > 0 ? "completed" as const : undefined,
        }),
        onDone: "done",
        onError: {
          target: "failed",
          actions: assign({
            error: ({ event }) => `cannot flush the output: ${(event.error as Error).message}`,
          }),
        },
      },
    },
    stopping: {
      invoke: {
        src: "finish",
        input: ({ context }) => ({ ctx: context, event: context.storage ? "stopped" as const : undefined }),
        onDone: [{ guard: ({ context }) => context.error !== undefined, target: "failed" }, {
          target: "stopped",
        }],
        onError: [{ guard: ({ context }) => context.error !== undefined, target: "failed" }, {
          target: "stopped",
        }],
      },
    },
    done: { type: "final" },
    stopped: { type: "final" },
    failed: { type: "final", entry: ({ context }) => context.storage?.close() },
  },
});

function announceParams(ctx: Context, coordinator?: AnyActorRef): Omit<AnnounceParams, "event"> {
  const verified = (ctx.stats ?? coordinatorStats(coordinator))?.verifiedBytes ?? 0;
  return {
    infoHash: ctx.input.meta.infoHash,
    peerId: ctx.input.peerId,
    port: ctx.input.port,
    uploaded: 0,
    downloaded: verified,
    left: ctx.input.meta.totalLength - verified,
  };
}
