/**
 * The swarm: the peers of one torrent while it downloads or seeds. It dials the addresses in the address book
 * (never a banned one, failed ones after their back-off) up to `maxPeers`, takes peers that dial us, runs the
 * choker, bans peers the coordinator strikes out, passes on the peers PEX and the trackers tell of, and reports
 * when no peer has been connected for too long while downloading.
 *
 *   downloading ──swarm.complete──→ seeding
 *
 * Its children: one peer actor per connection (each under its address as id), the tracker actor, the acceptor and
 * a one-second tick. The supervisor invokes it in `active`; leaving `active` stops it and every peer with it.
 *
 * @module
 */

import { assign, enqueueActions, raise, sendParent, setup } from "xstate";
import { addressKey } from "../src/swarm/address_book.ts";
import { chooseUnchoked, keepAndFill } from "../src/swarm/choker.ts";
import { acceptor, type AcceptorEvent } from "./acceptor.ts";
import type { SilentCounts } from "../src/peer/first_bytes.ts";
import { type PeerClosed, peerMachine, type PeerPex } from "./peer.ts";
import {
  announceSubject,
  connectedPeers,
  connectedTo,
  halfOpenIncoming,
  linkBase,
  liveWebSeeds,
  pexPeersOf,
  type SwarmInput,
} from "./swarm_members.ts";
import { ticker } from "./ticker.ts";
import { type WebSeedClosed, webSeedMachine } from "./web_seed.ts";
import { trackerActor, type TrackerEvent, trackerStatus } from "./tracker.ts";

export { connectedPeers, type SwarmInput };

interface SwarmContext {
  input: SwarmInput;
  maxPeers: number;
  /** Seconds since the swarm started: the choker's full rounds fall on every tenth. */
  ticks: number;
  /** Peers we may still dial before the next tick (`dialsPerSecond` each second). */
  dials: number;
  /** The peer holding the optimistic unchoke slot. */
  optimistic?: string;
  /** When a peer was last connected (or the swarm started). */
  lastPeerAt: number;
  lastTrackerError?: string;
  lastWebSeedError?: string;
  /** Every piece is verified: set on entering `seeding`, so dialling stops unless we seed. */
  complete: boolean;
  /** Connections that dialled us and were closed before they sent a byte (counted by the acceptor). */
  silent: SilentCounts;
}

/** What the swarm hears: from its peers, its tracker, its acceptor, its tick, and from the supervisor. */
export type SwarmEvent =
  | TrackerEvent
  | PeerClosed
  | PeerPex
  | WebSeedClosed
  | AcceptorEvent
  | { type: "peer.interest"; key: string }
  /** A peer runs a DHT node there: the supervisor passes it on to the DHT. */
  | { type: "peer.dht-node"; host: string; port: number }
  /** From the supervisor: the coordinator struck `key` for a piece that failed its hash. */
  | { type: "peer.strike"; key: string; index: number }
  /** From the supervisor: every piece is verified. */
  | { type: "swarm.complete" }
  /** From the supervisor: the address book has new peers (the DHT found them). */
  | { type: "peers.found" }
  | { type: "tick" }
  | { type: "connect" };

/** What the swarm tells the supervisor. */
export type SwarmReport =
  | { type: "swarm.tracker"; status: string }
  | { type: "swarm.no-peers"; error: string }
  | { type: "peer.dht-node"; host: string; port: number };

/**
 * How long a peer that dialled us may take over its handshake before it can be closed to make room for another
 * (a round trip or three, with encryption; the handshake time-out itself is 10 s).
 */
export const HANDSHAKE_GRACE_MS = 2_000;

/** Default `dialsPerSecond`: libtorrent's `connection_speed`. */
const DIALS_PER_SECOND = 30;

/** The swarm of one torrent: peers dialled and accepted, choked and unchoked, struck and banned. */
export const swarmMachine = setup({
  types: {
    context: {} as SwarmContext,
    input: {} as SwarmInput,
    events: {} as SwarmEvent,
  },
  actors: { peer: peerMachine, webSeed: webSeedMachine, tracker: trackerActor, acceptor, ticker },
  actions: {
    /** A second has passed: the choker's clock moves on, and the dial allowance is whole again. */
    nextTick: assign({
      ticks: ({ context }) => context.ticks + 1,
      dials: ({ context }) => context.input.dialsPerSecond ?? DIALS_PER_SECOND,
    }),
    /** Spawns a peer actor for each address we may dial now, up to `maxPeers` (none when complete and not seeding). */
    dial: enqueueActions(({ context, enqueue, system, self }) => {
      const coordinator = system.get("coordinator");
      const { input } = context;
      if (!coordinator || (context.complete && !input.seeding)) return;
      const upTo = Math.min(context.maxPeers, input.book.active.size + context.dials);
      if (upTo <= input.book.active.size) return; // full, or no dial left this second: nothing to look up
      // Not the addresses of peers that dialled us and told where they listen: that would be a second connection.
      const connected = new Set(pexPeersOf(self).map(addressKey));
      const dialled = input.book.takeDialable(upTo, Date.now(), connected);
      if (dialled.length > 0) enqueue.assign({ dials: context.dials - dialled.length });
      for (const entry of dialled) {
        const key = addressKey(entry);
        const link = { ...linkBase(input, self, key), host: entry.host, port: entry.port };
        enqueue.spawnChild("peer", {
          id: key,
          input: { key, coordinator, timeouts: input.timeouts, link, alreadyConnected: connectedTo(self) },
        });
      }
    }),
    /** One actor per web seed of the torrent, while it downloads (under its URL as id). */
    startWebSeeds: enqueueActions(({ context: { input, complete }, enqueue, system }) => {
      const coordinator = system.get("coordinator");
      if (!coordinator || complete || input.webSeeds === false) return;
      for (const url of input.meta.webSeeds) {
        enqueue.spawnChild("webSeed", {
          id: url,
          input: { url, meta: input.meta, coordinator, options: input.webSeeds },
        });
      }
    }),
    stopWebSeeds: enqueueActions(({ context, enqueue }) => {
      for (const url of context.input.meta.webSeeds) enqueue.stopChild(url);
    }),
    forgetWebSeed: enqueueActions(({ event, enqueue }) => {
      const { key, reason } = event as WebSeedClosed;
      enqueue.stopChild(key);
      enqueue.assign({ lastWebSeedError: `web seed ${key}: ${reason}` });
    }),
    /** Takes a connection a peer opened to us, or closes it when we are full or know it already. */
    accept: enqueueActions(({ context, event, enqueue, system, self }) => {
      const { conn, host: hostname, port } = event as AcceptorEvent;
      const key = addressKey({ host: hostname, port });
      const coordinator = system.get("coordinator");
      // Connections that stall in their handshake may not crowd out honest peers (the acceptor holds the ones that
      // have sent nothing at all): past a few still in their handshake, the one that has waited longest is closed
      // (its slot frees as it ends), whatever the handshake time-out, once it has had time to finish. Honest peers
      // that dial at once (a popular torrent's, after an announce) are read one after another; they may hold up to
      // half the slots while they are young, a flood no more than that.
      const halfOpen = halfOpenIncoming(self);
      const few = context.input.maxHalfOpen ?? 8;
      if (
        halfOpen.length >= few &&
        (halfOpen.length >= context.maxPeers / 2 || Date.now() - halfOpen[0].since >= HANDSHAKE_GRACE_MS)
      ) enqueue.sendTo(halfOpen[0].key, { type: "close" });
      if (!coordinator || !context.input.book.takeIncoming(key, context.maxPeers)) {
        conn.close();
        return;
      }
      const link = { ...linkBase(context.input, self, key), host: hostname, port, conn };
      enqueue.spawnChild("peer", {
        id: key,
        input: {
          key,
          coordinator,
          timeouts: context.input.timeouts,
          link,
          alreadyConnected: connectedTo(self),
        },
      });
    }),
    /** Runs the choker: a full round every 10 s (optimistic slot rotated every 30 s), else fills free slots. */
    choke: enqueueActions(({ context, enqueue, self }) => {
      const peers = connectedPeers(self);
      const slots = context.input.uploadSlots ?? 4;
      const candidates = peers.map((p) => ({
        key: p.key,
        interested: p.peerInterested,
        downloadRate: p.rates.down,
        uploadRate: p.rates.up,
        unchoked: !p.amChoking,
        unchokedAt: p.unchokedAt,
      }));
      let unchoke: Set<string>;
      if (context.ticks % 10 === 0) {
        const choice = chooseUnchoked(
          candidates,
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
        // Between rounds, only free slots are filled (and idle peers' taken back), so a new leecher does not
        // wait up to 10 s.
        unchoke = keepAndFill(candidates, { slots });
      }
      for (const p of peers) {
        if (unchoke.has(p.key) && p.amChoking) enqueue.sendTo(p.key, { type: "unchoke" });
        if (!unchoke.has(p.key) && !p.amChoking) enqueue.sendTo(p.key, { type: "choke" });
      }
    }),
    learnTrackerPeers: ({ context, event }) =>
      context.input.book.add((event as Extract<SwarmEvent, { type: "tracker.peers" }>).peers, "tracker"),
    learnPexPeers: ({ context, event }) => {
      const { peers } = event as PeerPex;
      // Once we have every piece, a seed has nothing for us and we nothing for it (BEP 11's seed flag).
      const complete = context.input.ours.have.complete;
      context.input.book.add(complete ? peers.filter((p) => !p.seed) : peers, "pex");
    },
    forgetPeer: enqueueActions(({ context, event, enqueue }) => {
      const { key, reason, pieces } = event as PeerClosed;
      enqueue.stopChild(key);
      context.input.book.closed(key, reason, pieces);
    }),
    strike: enqueueActions(({ context, event, enqueue }) => {
      const { key } = event as Extract<SwarmEvent, { type: "peer.strike" }>;
      if (context.input.meta.webSeeds.includes(key)) return enqueue.sendTo(key, { type: "strike" });
      const maxStrikes = context.input.maxStrikes ?? 3;
      if (!context.input.book.strike(key, maxStrikes)) return;
      if (context.input.book.active.has(key)) {
        enqueue.sendTo(key, { type: "ban", reason: `banned after ${maxStrikes} corrupt pieces` });
      }
    }),
    reportTracker: sendParent(({ event }) =>
      ({
        type: "swarm.tracker",
        status: trackerStatus(event as TrackerEvent),
      }) satisfies SwarmReport
    ),
    /** While downloading, once a second: no peer connected asks the tracker for more; too long without, reports it. */
    checkPeers: enqueueActions(({ context, enqueue, self }) => {
      if (connectedPeers(self).length > 0 || liveWebSeeds(self, context.input.meta.webSeeds) > 0) {
        enqueue.assign({ lastPeerAt: Date.now() });
        return;
      }
      if (context.input.book.active.size < context.maxPeers) {
        enqueue.sendTo("tracker", { type: "tracker.announce" });
      }
      const timeout = context.input.noPeersTimeoutMs ?? 120_000;
      if (Date.now() - context.lastPeerAt > timeout) {
        const last = context.lastWebSeedError ??
          (context.lastTrackerError && `last tracker error: ${context.lastTrackerError}`);
        const why = last ? ` (${last})` : "";
        enqueue.sendParent(
          {
            type: "swarm.no-peers",
            error: `no peer connected for ${Math.round(timeout / 1000)} s${why}`,
          } satisfies SwarmReport,
        );
      }
    }),
  },
}).createMachine({
  id: "swarm",
  context: ({ input }) => ({
    input,
    maxPeers: input.maxPeers ?? 50,
    ticks: 0,
    dials: input.dialsPerSecond ?? DIALS_PER_SECOND,
    lastPeerAt: Date.now(),
    complete: false,
    silent: { closedSilent: 0 },
  }),
  invoke: [
    {
      id: "tracker",
      src: "tracker",
      input: ({ context }) => ({
        trackers: context.input.meta.trackers,
        setup: context.input.trackers,
        subject: announceSubject(context.input),
      }),
    },
    { src: "ticker" },
    {
      src: "acceptor",
      input: ({ context }) => ({
        listener: context.input.listener,
        utp: context.input.utp,
        silentMs: context.input.timeouts?.handshakeMs,
        counts: context.silent,
      }),
    },
  ],
  // Dial once the supervisor's coordinator, which every peer reports to, is in the system.
  entry: raise({ type: "connect" }, { delay: 0 }),
  on: {
    "connect": { actions: ["dial", "startWebSeeds"] },
    "webseed.closed": { actions: "forgetWebSeed" },
    "peer.incoming": { actions: "accept" },
    "peer.interest": { actions: "choke" },
    "peer.pex": { actions: ["learnPexPeers", "dial"] },
    "peer.closed": { actions: ["forgetPeer", "dial"] },
    "peer.strike": { actions: "strike" },
    "peers.found": { actions: "dial" },
    "peer.dht-node": { actions: sendParent(({ event }) => event) },
    "tracker.peers": { actions: ["learnTrackerPeers", "reportTracker", "dial"] },
    "tracker.warning": { actions: "reportTracker" },
    "tracker.error": {
      actions: [assign({ lastTrackerError: ({ event }) => event.message }), "reportTracker"],
    },
  },
  initial: "downloading",
  states: {
    downloading: {
      on: {
        "swarm.complete": "seeding",
        "tick": {
          actions: ["nextTick", "dial", "choke", "checkPeers"],
        },
      },
    },
    seeding: {
      entry: [assign({ complete: true }), "stopWebSeeds"],
      on: {
        "tick": { actions: ["nextTick", "dial", "choke"] },
      },
    },
  },
});
