/**
 * The supervisor: one torrent's lifecycle.
 *
 *   metadata → parsingMetadata ─┐                      (magnet links only)
 *   checking ←──────────────────┘
 *   checking → active.downloading → active.completing → active.seeding ─→ done
 *       │                                    └─────────────────────────→ done   (not seeding)
 *       │            └───────── stop ──────────→ stopping → stopped (or done, when complete)
 *       └────────────┴──────────────────────────→ failed   (disk error, no peers in time)
 *
 * In `metadata` it invokes the metadata fetcher and a tracker actor, and hands the fetcher every peer it learns.
 * In `active` it invokes the coordinator (pieces), the tracker actor (peers), the acceptor (incoming connections)
 * and a one-second tick. It keeps an address book of every peer it has heard of, spawns one peer actor per address
 * up to `maxPeers` (reconnecting with back-off, never to a banned peer), takes peers that dial us, and runs the
 * choker every 10 s.
 *
 * @module
 */

import {
  type AnyActorRef,
  assign,
  enqueueActions,
  fromCallback,
  fromPromise,
  raise,
  sendTo,
  setup,
} from "xstate";
import { checkPieces } from "../src/check.ts";
import { chooseUnchoked } from "../src/choker.ts";
import { LocalPieces } from "../src/local_pieces.ts";
import { type Magnet, torrentFromMetadata } from "../src/magnet.ts";
import { type Metainfo, parseMetainfo } from "../src/metainfo.ts";
import type { ResumeStore } from "../src/resume.ts";
import type { Storage } from "../src/storage.ts";
import type { AnnounceParams, PeerAddress } from "../src/tracker.ts";
import type { Message } from "../src/wire.ts";
import type { TrackerOptions } from "../src/trackers.ts";
import { UdpTrackerClient } from "../src/udp_tracker_client.ts";
import { acceptor, type AcceptorEvent, bindListener } from "./acceptor.ts";
import { addPeers, type AddressEntry, recordClose } from "./address_book.ts";
import { type MetadataEvent, metadataFetcher } from "./metadata.ts";
import { coordinatorMachine, coordinatorStats, type Stats } from "./coordinator.ts";
import type { LinkInput } from "./peer_link.ts";
import { type PeerClosed, type PeerContext, peerMachine, type PeerPex, type PeerTimeouts } from "./peer.ts";
import { announceEvent, trackerActor, type TrackerEvent } from "./tracker.ts";

export type { AddressEntry } from "./address_book.ts";
export { addPeers } from "./address_book.ts";

/** What a torrent's storage opening gives: the storage, whether data was there, and its resume record. */
export interface OpenedStorage {
  storage: Storage;
  existed: boolean;
  /** Keeps the verified-piece hint across clean restarts. */
  resume?: ResumeStore;
}

export interface TorrentInput {
  /** The torrent; absent for a magnet link until its metadata is fetched. */
  meta?: Metainfo;
  /** The magnet link to fetch the metadata for, when there is no `meta`. */
  magnet?: Magnet;
  peerId: Uint8Array;
  /** Port to listen on (or the next free one); the port we get is the one announced. */
  port: number;
  /** Address to listen on (default all interfaces); `false` to accept no connections. */
  listen?: string | false;
  /** Opens the torrent's storage; `existed` asks for a check of the data already there. */
  openStorage: (meta: Metainfo) => Promise<OpenedStorage>;
  maxPeers?: number;
  /** Peers to dial besides those the trackers give. */
  peers?: PeerAddress[];
  /** Give up when no peer has been connected for this long while downloading. */
  noPeersTimeoutMs?: number;
  /** Time budget of one HTTP announce; a UDP announce gets three times as long for its retransmissions. */
  trackerTimeoutMs?: number;
  /** First retry delay after a failed announce; doubles up to five minutes. */
  trackerRetryMs?: number;
  /** First UDP retransmission delay (BEP 15: 15 s). */
  udpRetryMs?: number;
  timeouts?: Partial<PeerTimeouts>;
  /** Strikes (pieces that failed the hash) before a peer is banned. */
  maxStrikes?: number;
  /** Hash all existing data even when the resume record vouches for it. */
  forceCheck?: boolean;
  /** Keep seeding after completion: until stopped, or until a ratio or a time is reached. */
  seed?: { ratio?: number; timeMs?: number };
  /** Seed existing data only: incomplete data is an error, nothing is downloaded. */
  seedOnly?: boolean;
  /** Regular unchoke slots (default 4), plus one optimistic. */
  uploadSlots?: number;
  /** How often peers are told about our other peers (BEP 11: at most once a minute, the default). */
  pexIntervalMs?: number;
  /** Sees every peer wire message after the handshakes, each way (debugging). */
  wireTrace?: (key: string, direction: "in" | "out", msg: Message) => void;
}

interface Context {
  input: TorrentInput;
  meta?: Metainfo;
  resume?: ResumeStore;
  /** How the metadata fetch of a magnet link goes, for a person watching. */
  metadataStatus?: string;
  /** Peers connected for the metadata that have it. */
  metadataPeers?: number;
  maxPeers: number;
  storage?: Storage;
  ours?: LocalPieces;
  listener?: Deno.TcpListener;
  /** The port we listen on, or the requested one when we do not listen. */
  port: number;
  book: Map<string, AddressEntry>;
  active: Set<string>;
  trackerOptions: TrackerOptions;
  /** Trackers told `started`: they are told `completed` and `stopped` too. */
  announced: Set<string>;
  lastPeerAt: number;
  lastTrackerError?: string;
  /** What the trackers said last, for a person watching: peers, an error or a warning. */
  trackerStatus?: string;
  error?: string;
  stats?: Stats;
  complete: boolean;
  seedingSince?: number;
  ticks: number;
  optimistic?: string;
}

type Event =
  | TrackerEvent
  | PeerClosed
  | PeerPex
  | AcceptorEvent
  | { type: "peer.strike"; key: string; index: number }
  | { type: "peer.interest"; key: string }
  | { type: "coordinator.complete" }
  | MetadataEvent
  | { type: "tick" }
  | { type: "tick.check" }
  | { type: "connect" }
  | { type: "stop" };

/** Data that cannot be seeded because it is incomplete. */
class SeedError extends Error {}

const ticker = fromCallback(({ sendBack }) => {
  const id = setInterval(() => sendBack({ type: "tick" }), 1000);
  return () => clearInterval(id);
});

/** The link input every peer of this torrent shares, less the address and the socket. */
function linkBase(ctx: Context, self: AnyActorRef, key: string): Omit<LinkInput, "host" | "port"> {
  const wireTrace = ctx.input.wireTrace;
  const { peerId } = ctx.input;
  const meta = ctx.meta!;
  const storage = ctx.storage!;
  return {
    infoHash: meta.infoHash,
    peerId,
    pieceLength: meta.pieceLength,
    pieceCount: meta.pieceCount,
    totalLength: meta.totalLength,
    ours: ctx.ours,
    readBlock: (offset, length) => storage.read(offset, length),
    metadata: meta.rawInfo,
    private: meta.private,
    listenPort: ctx.listener ? ctx.port : undefined,
    pexPeers: () => pexPeers(ctx, self.getSnapshot().children),
    pexIntervalMs: ctx.input.pexIntervalMs,
    trace: wireTrace && ((direction, msg) => wireTrace(key, direction, msg)),
  };
}

/** The peers we are connected to, at their listen addresses (an incoming peer's only if it told us its port). */
function pexPeers(ctx: Context, children: Record<string, AnyActorRef | undefined>): PeerAddress[] {
  return peerContexts(ctx, children).flatMap((p) => {
    const port = p.incoming ? p.listenPort : p.link.port;
    return port ? [{ host: p.link.host, port }] : [];
  });
}

function peerContexts(ctx: Context, children: Record<string, AnyActorRef | undefined>): PeerContext[] {
  const out: PeerContext[] = [];
  for (const key of ctx.active) {
    const snap = children[key]?.getSnapshot() as { context?: PeerContext; matches?: (s: string) => boolean };
    if (snap?.context && snap.matches?.("connected")) out.push(snap.context);
  }
  return out;
}

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
    acceptor,
    ticker,
    open: fromPromise<
      { storage: Storage; resume?: ResumeStore; ours: LocalPieces; listener?: Deno.TcpListener },
      { input: TorrentInput; meta: Metainfo; listener?: Deno.TcpListener }
    >(async ({ input: { input, meta, listener } }) => {
      const { storage, existed, resume } = await input.openStorage(meta);
      let ours = new LocalPieces(meta.pieceCount);
      if (existed) {
        const hint = input.forceCheck ? undefined : await resume?.load(meta);
        ours = new LocalPieces(meta.pieceCount, hint ?? await checkPieces(meta, storage));
      }
      if (input.seedOnly && !ours.have.complete) {
        storage.close();
        throw new SeedError(`only ${ours.have.count} of ${meta.pieceCount} pieces are on disk and verified`);
      }
      listener ??= input.listen === false ? undefined : bindListener(input.port, input.listen);
      return { storage, resume, ours, listener };
    }),
    metadata: metadataFetcher,
    parseMetadata: fromPromise<Metainfo, { info: Uint8Array; trackers: string[][] }>(({ input }) =>
      parseMetainfo(torrentFromMetadata(input.info, input.trackers))
    ),
    finish: fromPromise<void, { ctx: Context; events: ("completed" | "stopped")[] }>(
      async ({ input: { ctx, events } }) => {
        try {
          await ctx.storage?.sync();
        } finally {
          ctx.storage?.close(); // a seeder's reads reopen the files
        }
        // Only after the data is flushed may the record vouch for it; a hint, so failing to write it is no error.
        if (ctx.ours) await ctx.resume?.save(ctx.meta!, ctx.ours.have).catch(() => {});
        for (const event of events) {
          await announceEvent(ctx.announced, { ...announceParams(ctx), event }, ctx.trackerOptions);
        }
      },
    ),
  },
  actions: {
    /** Hands every address we know that is not banned to the metadata fetcher. */
    offerPeers: sendTo("metadata", ({ context }) => ({
      type: "peers" as const,
      peers: [...context.book.values()].filter((e) => !e.banned).map(({ host, port }) => ({ host, port })),
    })),
    connectMore: enqueueActions(({ context, enqueue, system, self }) => {
      const coordinator = system.get("coordinator");
      if (!coordinator) return;
      // Complete and not seeding: there is nobody left to dial.
      if (context.complete && !context.input.seed && !context.input.seedOnly) return;
      const now = Date.now();
      for (const [key, entry] of context.book) {
        if (context.active.size >= context.maxPeers) break;
        if (entry.banned || entry.retryAt > now || context.active.has(key)) continue;
        context.active.add(key);
        const link = { ...linkBase(context, self, key), host: entry.host, port: entry.port };
        enqueue.spawnChild("peer", {
          id: key,
          input: { key, coordinator, timeouts: context.input.timeouts, link },
        });
      }
    }),
    accept: enqueueActions(({ context, event, enqueue, system, self }) => {
      const { conn } = event as AcceptorEvent;
      const { hostname, port } = conn.remoteAddr as Deno.NetAddr;
      const key = hostname.includes(":") ? `[${hostname}]:${port}` : `${hostname}:${port}`;
      const coordinator = system.get("coordinator");
      if (!coordinator || context.active.size >= context.maxPeers || context.active.has(key)) {
        conn.close();
        return;
      }
      context.active.add(key);
      const link = { ...linkBase(context, self, key), host: hostname, port, conn };
      enqueue.spawnChild("peer", {
        id: key,
        input: { key, coordinator, timeouts: context.input.timeouts, link },
      });
    }),
    choke: enqueueActions(({ context, enqueue, self }) => {
      const peers = peerContexts(context, self.getSnapshot().children);
      const full = context.ticks % 10 === 0;
      const slots = context.input.uploadSlots ?? 4;
      let unchoke: Set<string>;
      if (full) {
        const choice = chooseUnchoked(
          peers.map((p) => ({
            key: p.key,
            interested: p.peerInterested,
            downloadRate: p.rates.down,
            uploadRate: p.rates.up,
          })),
          {
            seeding: context.complete,
            slots,
            optimistic: context.optimistic,
            rotate: context.ticks % 30 === 0,
          },
        );
        unchoke = choice.unchoke;
        enqueue.assign({ optimistic: choice.optimistic });
      } else {
        // Between rounds, only fill free slots, so a new leecher does not wait up to 10 s.
        unchoke = new Set(peers.filter((p) => !p.amChoking && p.peerInterested).map((p) => p.key));
        for (const p of peers) if (unchoke.size < slots + 1 && p.peerInterested) unchoke.add(p.key);
      }
      for (const p of peers) {
        if (unchoke.has(p.key) && p.amChoking) enqueue.sendTo(p.key, { type: "unchoke" });
        if (!unchoke.has(p.key) && !p.amChoking) enqueue.sendTo(p.key, { type: "choke" });
      }
    }),
    stopPeers: enqueueActions(({ context, enqueue }) => {
      for (const key of context.active) enqueue.stopChild(key);
      context.active.clear();
    }),
    captureStats: assign({
      stats: ({ context, self }) =>
        coordinatorStats(self.getSnapshot().children.coordinator) ?? context.stats,
    }),
    closeListener: ({ context }) => {
      try {
        context.listener?.close();
      } catch { /* already closed */ }
    },
  },
  guards: {
    complete: ({ context }) => context.complete,
    seeding: ({ context }) => context.input.seed !== undefined || context.input.seedOnly === true,
    failed: ({ context }) => context.error !== undefined,
  },
}).createMachine({
  id: "torrent",
  context: ({ input }) => ({
    input,
    meta: input.meta,
    maxPeers: input.maxPeers ?? 50,
    port: input.port,
    book: new Map(),
    active: new Set(),
    trackerOptions: {
      udp: new UdpTrackerClient({ retryBaseMs: input.udpRetryMs }),
      timeoutMs: input.trackerTimeoutMs ?? 15_000,
      udpTimeoutMs: 3 * (input.trackerTimeoutMs ?? 15_000),
    },
    announced: new Set(),
    lastPeerAt: Date.now(),
    complete: false,
    ticks: 0,
  }),
  output: ({ context }) => ({ ok: context.error === undefined, error: context.error, stats: context.stats }),
  initial: "start",
  states: {
    start: {
      always: [{ guard: ({ context }) => context.meta !== undefined, target: "checking" }, {
        target: "metadata",
      }],
    },
    metadata: {
      // A magnet link: find peers (trackers, x.pe, --peer, PEX) and fetch the info dictionary from them.
      entry: [
        ({ context }) => {
          // Listen already, so the port we announce is the one we keep.
          if (context.input.listen !== false) {
            context.listener = bindListener(context.input.port, context.input.listen);
            context.port = (context.listener.addr as Deno.NetAddr).port;
          }
          addPeers(context.book, context.active, context.input.peers ?? [], context.port, "given");
        },
      ],
      invoke: [
        {
          id: "metadata",
          src: "metadata",
          input: ({ context }) => ({
            infoHash: context.input.magnet!.infoHash,
            peerId: context.input.peerId,
            listenPort: context.listener ? context.port : undefined,
            peers: [...context.book.values()].map(({ host, port }) => ({ host, port })),
          }),
        },
        {
          id: "tracker",
          src: "tracker",
          input: ({ context }) => ({
            trackers: context.input.magnet!.trackers,
            options: context.trackerOptions,
            announced: context.announced,
            retryMs: context.input.trackerRetryMs,
            params: () => announceParams(context),
          }),
        },
        { src: "ticker" },
      ],
      on: {
        "stop": "stopping",
        "tracker.peers": {
          actions: [
            ({ context, event }) => addPeers(context.book, context.active, event.peers, context.port),
            assign({ trackerStatus: ({ event }) => `${event.peers.length} peers from ${event.tracker}` }),
            "offerPeers",
          ],
        },
        "metadata.peers": {
          actions: [
            ({ context, event }) => addPeers(context.book, context.active, event.peers, context.port, "pex"),
            "offerPeers",
          ],
        },
        "tracker.error": {
          actions: assign({
            lastTrackerError: ({ event }) => event.message,
            trackerStatus: ({ event }) => `error: ${event.message} (retrying)`,
          }),
        },
        "metadata.progress": {
          actions: assign({
            metadataStatus: ({ event }) =>
              `${event.connected} peers, ${event.withMetadata} with metadata, ${event.received}/${event.pieces} pieces`,
            lastPeerAt: ({ context, event }) => event.withMetadata > 0 ? Date.now() : context.lastPeerAt,
            metadataPeers: ({ event }) => event.withMetadata,
          }),
        },
        "tick": {
          actions: [
            assign({ ticks: ({ context }) => context.ticks + 1 }),
            enqueueActions(({ context, enqueue }) => {
              if (context.ticks % 5 === 1) enqueue("offerPeers");
              // No peer with the metadata yet: ask the trackers again (no sooner than their min interval).
              if (!context.metadataPeers) enqueue.sendTo("tracker", { type: "tracker.announce" });
              const timeout = context.input.noPeersTimeoutMs ?? 120_000;
              if (Date.now() - context.lastPeerAt > timeout) {
                const why = context.lastTrackerError
                  ? ` (last tracker error: ${context.lastTrackerError})`
                  : "";
                enqueue.assign({
                  error: `no peer sent the metadata in ${Math.round(timeout / 1000)} s${why}`,
                });
                enqueue.raise({ type: "stop" });
              }
            }),
          ],
        },
        "metadata.done": "parsingMetadata",
      },
    },
    parsingMetadata: {
      on: { stop: "stopping" },
      invoke: {
        src: "parseMetadata",
        input: ({ context, event }) => ({
          info: (event as Extract<Event, { type: "metadata.done" }>).info,
          trackers: context.input.magnet!.trackers,
        }),
        onDone: { target: "checking", actions: assign({ meta: ({ event }) => event.output }) },
        onError: {
          target: "failed",
          actions: assign({
            error: ({ event }) =>
              `the metadata peers sent is not a valid torrent: ${(event.error as Error).message}`,
          }),
        },
      },
    },
    checking: {
      on: { stop: "stopping" },
      invoke: {
        src: "open",
        input: ({ context }) => ({ input: context.input, meta: context.meta!, listener: context.listener }),
        onDone: {
          target: "active",
          actions: assign({
            storage: ({ event }) => event.output.storage,
            resume: ({ event }) => event.output.resume,
            ours: ({ event }) => event.output.ours,
            listener: ({ event }) => event.output.listener,
            port: ({ context, event }) => (event.output.listener?.addr as Deno.NetAddr)?.port ?? context.port,
          }),
        },
        onError: {
          target: "failed",
          actions: assign({
            error: ({ event }) =>
              event.error instanceof SeedError
                ? `cannot seed: ${event.error.message}`
                : `cannot open the output: ${(event.error as Error).message}`,
          }),
        },
      },
    },
    active: {
      entry: [
        assign({ lastPeerAt: () => Date.now() }),
        ({ context }) =>
          addPeers(context.book, context.active, context.input.peers ?? [], context.port, "given"),
        raise({ type: "connect" }, { delay: 0 }),
      ],
      exit: ["captureStats", "stopPeers"],
      invoke: [
        {
          id: "coordinator",
          systemId: "coordinator",
          src: "coordinator",
          input: ({ context }) => ({
            meta: context.meta!,
            storage: context.storage!,
            ours: context.ours,
          }),
          onDone: {
            // The coordinator ends only on a disk error; completion is an event and it lives on for the peers.
            target: "failed",
            actions: assign({
              error: ({ event }) => event.output.error,
              stats: ({ event }) => event.output.stats,
            }),
          },
        },
        {
          id: "tracker",
          src: "tracker",
          input: ({ context, self }) => ({
            trackers: context.meta!.trackers,
            options: context.trackerOptions,
            announced: context.announced,
            retryMs: context.input.trackerRetryMs,
            params: () => announceParams(context, self.getSnapshot().children.coordinator),
          }),
        },
        { src: "ticker" },
        { src: "acceptor", input: ({ context }) => ({ listener: context.listener }) },
      ],
      on: {
        "stop": "stopping",
        "connect": { actions: "connectMore" },
        "peer.incoming": { actions: "accept" },
        "peer.interest": { actions: "choke" },
        "peer.pex": {
          actions: [
            ({ context, event }) => addPeers(context.book, context.active, event.peers, context.port, "pex"),
            "connectMore",
          ],
        },
        "tracker.peers": {
          actions: [
            ({ context, event }) => addPeers(context.book, context.active, event.peers, context.port),
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
            recordClose(context.book, event.key, event.reason, event.pieces);
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
            assign({ ticks: ({ context }) => context.ticks + 1 }),
            "connectMore",
            "choke",
            raise({ type: "tick.check" }),
          ],
        },
      },
      initial: "downloading",
      states: {
        downloading: {
          always: { guard: "complete", target: "completing" },
          on: {
            "coordinator.complete": { actions: ["captureStats", assign({ complete: true })] },
            "tick.check": {
              actions: [
                enqueueActions(({ context, enqueue, self }) => {
                  if (peerContexts(context, self.getSnapshot().children).length > 0) {
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
            // `completed` is announced by the session that completed the download, not by a rerun over complete
            // data; a client that leaves now also says `stopped`, so trackers stop listing it as a seeder.
            input: ({ context }) => ({
              ctx: context,
              events: [
                ...((context.stats?.receivedBytes ?? 0) > 0 ? ["completed" as const] : []),
                ...(context.input.seed || context.input.seedOnly ? [] : ["stopped" as const]),
              ],
            }),
            onDone: [
              { guard: "seeding", target: "seeding" },
              { target: "#torrent.done" },
            ],
            onError: {
              target: "#torrent.failed",
              actions: assign({
                error: ({ event }) => `cannot flush the output: ${(event.error as Error).message}`,
              }),
            },
          },
        },
        seeding: {
          entry: assign({ seedingSince: () => Date.now() }),
          on: {
            "tick.check": {
              actions: [
                enqueueActions(({ context, enqueue }) => {
                  const { ratio, timeMs } = context.input.seed ?? {};
                  const uploaded = context.ours?.uploaded ?? 0;
                  const byRatio = ratio !== undefined && uploaded >= ratio * context.meta!.totalLength;
                  const byTime = timeMs !== undefined && Date.now() - context.seedingSince! >= timeMs;
                  if (byRatio || byTime) enqueue.raise({ type: "stop" });
                }),
              ],
            },
          },
        },
      },
    },
    stopping: {
      invoke: {
        src: "finish",
        // Only trackers that heard `started` are told (none, when we stop before the first announce).
        input: ({ context }) => ({ ctx: context, events: ["stopped" as const] }),
        onDone: [
          { guard: "failed", target: "failed" },
          { guard: "complete", target: "done" },
          { target: "stopped" },
        ],
        onError: [
          { guard: "failed", target: "failed" },
          { guard: "complete", target: "done" },
          { target: "stopped" },
        ],
      },
    },
    done: { type: "final", entry: "closeListener" },
    stopped: { type: "final", entry: "closeListener" },
    failed: { type: "final", entry: ["closeListener", ({ context }) => context.storage?.close()] },
  },
});

function announceParams(ctx: Context, coordinator?: AnyActorRef): Omit<AnnounceParams, "event"> {
  const verified = (coordinatorStats(coordinator) ?? ctx.stats)?.verifiedBytes ?? 0;
  return {
    infoHash: ctx.meta?.infoHash ?? ctx.input.magnet!.infoHash,
    peerId: ctx.input.peerId,
    port: ctx.port,
    uploaded: ctx.ours?.uploaded ?? 0,
    downloaded: verified,
    // Before the metadata, the size is unknown; anything but 0 (which would make us a seeder) will do.
    left: ctx.meta ? ctx.meta.totalLength - verified : 16384,
  };
}
