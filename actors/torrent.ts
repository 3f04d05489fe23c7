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

import { assign, enqueueActions, raise, sendTo, setup } from "xstate";
import { chooseUnchoked } from "../src/swarm/choker.ts";
import { UdpTrackerClient } from "../src/tracker/udp_client.ts";
import { acceptor, type AcceptorEvent, bindListener } from "./acceptor.ts";
import { addPeers, recordClose } from "../src/swarm/address_book.ts";
import { coordinatorMachine, coordinatorStats, type Stats } from "./coordinator.ts";
import { metadataFetcher } from "./metadata.ts";
import { peerMachine } from "./peer.ts";
import { trackerActor } from "./tracker.ts";
import {
  announceParams,
  finishJob,
  linkBase,
  openJob,
  parseMetadataJob,
  peerContexts,
  pieceWriters,
  SeedError,
  ticker,
  type TorrentContext as Context,
  type TorrentEvent as Event,
  type TorrentInput,
} from "./torrent_context.ts";

export type { AddressEntry } from "../src/swarm/address_book.ts";
export { addPeers } from "../src/swarm/address_book.ts";
export type { OpenedStorage, TorrentInput } from "./torrent_context.ts";

/** The supervisor of one torrent: [metadata →] checking → active.{downloading → completing → seeding} → done. */
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
    open: openJob,
    metadata: metadataFetcher,
    parseMetadata: parseMetadataJob,
    finish: finishJob,
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
  on: {
    // From the tracker actor of the metadata state or of the active one.
    "tracker.error": {
      actions: assign({
        lastTrackerError: ({ event }) => event.message,
        trackerStatus: ({ event }) => `error: ${event.message} (retrying)`,
      }),
    },
  },
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
            writers: ({ context, event }) => pieceWriters(context.input, context.meta!, event.output.storage),
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
            writers: context.writers,
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
