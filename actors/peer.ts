/**
 * The peer actor: one remote peer's life as a state machine.
 *
 *   connecting → handshaking → choked ⇄ downloading
 *        └────────────┴───────────┴──────────┴──→ failed (final: closed, timed out, stalled or banned)
 *
 * It invokes a `peerLink` (the socket and its bytes) and relays between the link and the coordinator: what the
 * peer has, when it unchokes us, the whole pieces. Only lifecycle and piece events pass through it.
 *
 * @module
 */

import { type AnyActorRef, assign, fromCallback, sendParent, sendTo, setup, stopChild } from "xstate";
import type { CoordinatorOrder } from "./coordinator.ts";
import { PeerLink } from "../src/peer/link.ts";
import type { LinkCommand, LinkEvent, LinkInput } from "../src/peer/link_events.ts";
import type { Bitfield } from "../src/common/bitfield.ts";
import type { PexPeer } from "../src/wire/extension.ts";
import type { Transport } from "../src/peer/connection.ts";

export interface PeerInput {
  /** `host:port`, the peer's identity in the swarm. */
  key: string;
  link: LinkInput;
  coordinator: AnyActorRef;
  timeouts?: Partial<PeerTimeouts>;
  /**
   * True when another connection to the peer with this id is up already (it dialled us and we dialled it): this
   * one is dropped at its handshake. Both ends drop the later one, which is the same connection for both.
   */
  alreadyConnected?: (peerId: string) => boolean;
}

/** How long a peer may take in each state before it is dropped. */
export interface PeerTimeouts {
  /** The TCP connection must open within this. */
  connectMs: number;
  /** The peer's handshake must arrive within this. */
  handshakeMs: number;
  /** Choked for this long: the slot goes to another peer (it reconnects later with back-off). */
  chokedMs: number;
  /** Requests outstanding and no block for this long: the peer is stalled and its pieces go elsewhere. */
  stallMs: number;
}

export const DEFAULT_TIMEOUTS: PeerTimeouts = {
  connectMs: 10_000,
  handshakeMs: 10_000,
  chokedMs: 120_000,
  stallMs: 30_000,
};

export interface PeerContext {
  key: string;
  link: LinkInput;
  coordinator: AnyActorRef;
  timeouts: PeerTimeouts;
  alreadyConnected?: (peerId: string) => boolean;
  client?: string;
  peerId?: string;
  /** How the connection's bytes travel, once handshaken: plaintext, RC4, or obfuscated (plaintext after MSE). */
  transport?: Transport;
  /** What carries the bytes: TCP or uTP. */
  via?: "tcp" | "utp";
  /** Whole pieces this peer gave us. */
  pieces: number;
  /** The peer wants what we have. */
  peerInterested: boolean;
  /** We choke the peer (we start choking, as BEP 3 says). */
  amChoking: boolean;
  /** When we last unchoked it: the choker gives turns in that order. */
  unchokedAt?: number;
  /** Payload bytes per second, last measured. */
  rates: { down: number; up: number };
  /** True when the peer dialled us. */
  incoming: boolean;
  /** The port the peer listens on, from its extension handshake (BEP 10). */
  listenPort?: number;
  /** The peer's pieces as its link keeps them (the link's own bitfield, kept up to date by its haves). */
  bitfield?: Bitfield;
  reason?: string;
  since: number;
}

/**
 * Where a peer listens: the address we dialled, or for one that dialled us the port its extension handshake told
 * (undefined until then). What PEX tells others, and what is not dialled again while the peer is connected.
 */
export function listenAddress(ctx: PeerContext): PexPeer | undefined {
  const port = ctx.incoming ? ctx.listenPort : ctx.link.port;
  if (!port) return undefined;
  return ctx.bitfield?.complete ? { host: ctx.link.host, port, seed: true } : { host: ctx.link.host, port };
}

/** What the supervisor may tell a peer. */
export type PeerCommand =
  | { type: "ban"; reason: string }
  | { type: "close" }
  | { type: "choke" }
  | { type: "unchoke" };

/** Peers this peer told us about (BEP 11). */
export interface PeerPex {
  type: "peer.pex";
  key: string;
  peers: PexPeer[];
}

/** What a peer reports to its supervisor when it ends. */
export interface PeerClosed {
  type: "peer.closed";
  key: string;
  reason: string;
  /** True when the handshake had succeeded. */
  handshaken: boolean;
  pieces: number;
}

/** The link as an XState callback actor: commands in through `receive`, events out through `sendBack`. */
export const peerLink = fromCallback<LinkCommand, LinkInput, LinkEvent>(({ input, sendBack, receive }) => {
  const link = new PeerLink(input, sendBack);
  receive((cmd) => link.command(cmd));
  link.run();
  return () => link.close();
});

/** One peer: connecting → handshaking → connected.{choked ⇄ downloading} → failed, relaying between its link and the coordinator. */
export const peerMachine = setup({
  types: {
    context: {} as PeerContext,
    input: {} as PeerInput,
    events: {} as LinkEvent | CoordinatorOrder | PeerCommand,
  },
  actors: { link: peerLink },
  guards: {
    /** The swarm has another connection up to the peer with this id. */
    alreadyConnected: ({ context, event }) =>
      event.type === "link.handshaken" && (context.alreadyConnected?.(event.peerId) ?? false),
    /** The peer wants our pieces: a connection worth keeping though it gives us nothing (a seeder's leechers). */
    wantsOurs: ({ context }) => context.peerInterested,
  },
  delays: {
    connectTimeout: ({ context }) => context.timeouts.connectMs,
    handshakeTimeout: ({ context }) => context.timeouts.handshakeMs,
    chokedTimeout: ({ context }) => context.timeouts.chokedMs,
  },
  actions: {
    report: sendTo(({ context }) => context.coordinator, ({ context, event, self }) => {
      const key = context.key;
      switch (event.type) {
        case "link.handshaken":
          return { type: "peer.hello", key, ref: self };
        case "link.bitfield":
          return { type: "peer.bitfield", key, bitfield: event.bitfield };
        case "link.haves":
          return { type: "peer.haves", key, indices: event.indices };
        case "link.unchoked":
          return { type: "peer.ready", key };
        case "link.choked":
          return { type: "peer.choked", key };
        case "link.pieces":
          return { type: "peer.pieces", key, pieces: event.pieces, want: event.want };
        default:
          return { type: "peer.gone", key };
      }
    }),
    forwardToLink: sendTo("link", ({ event }) => {
      switch (event.type) {
        case "interest":
          return { type: event.value ? "interested" : "not-interested" };
        case "assign":
          return { type: "fetch", indices: event.indices };
        case "cancel":
          return { type: "cancel", index: event.index };
        case "choke":
        case "unchoke":
          return { type: event.type };
        default:
          return { type: "drop" };
      }
    }),
    markTime: assign({ since: () => Date.now() }),
    countPieces: assign({
      pieces: ({ context, event }) =>
        context.pieces + (event.type === "link.pieces" ? event.pieces.length : 0),
    }),
    setReason: assign({
      reason: ({ context, event }) => {
        if (context.reason) return context.reason;
        if (event.type === "link.closed" || event.type === "ban") return event.reason;
        if (event.type === "link.stalled") return "stalled: requests unanswered";
        if (event.type === "close") return "closed by us";
        return "timed out";
      },
    }),
  },
}).createMachine({
  id: "peer",
  context: ({ input }) => ({
    key: input.key,
    link: input.link,
    coordinator: input.coordinator,
    timeouts: { ...DEFAULT_TIMEOUTS, ...input.timeouts },
    alreadyConnected: input.alreadyConnected,
    pieces: 0,
    peerInterested: false,
    amChoking: true,
    rates: { down: 0, up: 0 },
    incoming: input.link.conn !== undefined,
    since: Date.now(),
  }),
  invoke: {
    id: "link",
    src: "link",
    input: ({ context }) => ({ ...context.link, stallMs: context.timeouts.stallMs }),
  },
  initial: "connecting",
  on: {
    "link.closed": { target: ".failed", actions: "setReason" },
    "ban": { target: ".failed", actions: "setReason" },
    "close": { target: ".failed", actions: "setReason" },
  },
  states: {
    connecting: {
      entry: "markTime",
      on: { "link.connected": "handshaking" },
      after: { connectTimeout: { target: "failed", actions: assign({ reason: "connect timed out" }) } },
    },
    handshaking: {
      entry: "markTime",
      on: {
        "link.handshaken": [{
          guard: "alreadyConnected",
          target: "failed",
          actions: assign({ reason: "already connected to this peer" }),
        }, {
          target: "connected",
          actions: [
            assign({
              client: ({ event }) => event.client,
              peerId: ({ event }) => event.peerId,
              transport: ({ event }) => event.transport,
              via: ({ event }) => event.via,
            }),
            "report",
          ],
        }],
      },
      after: { handshakeTimeout: { target: "failed", actions: assign({ reason: "handshake timed out" }) } },
    },
    connected: {
      // A parent for the states where the handshake is done: what the peer has matters in all of them.
      initial: "choked",
      on: {
        "link.bitfield": { actions: ["report", assign({ bitfield: ({ event }) => event.bitfield })] },
        "link.haves": { actions: "report" },
        "interest": { actions: "forwardToLink" },
        "link.interest": {
          // The supervisor fills a free upload slot at once rather than at its next tick.
          actions: [
            assign({ peerInterested: ({ event }) => event.value }),
            sendParent(({ context }) => ({ type: "peer.interest", key: context.key })),
          ],
        },
        "link.rates": { actions: assign({ rates: ({ event }) => ({ down: event.down, up: event.up }) }) },
        "link.extended": {
          actions: assign({
            listenPort: ({ event }) => event.port,
            client: ({ context, event }) =>
              context.client === "unknown" && event.client ? event.client : context.client,
          }),
        },
        "link.dht-port": {
          actions: sendParent(({ context, event }) => ({
            type: "peer.dht-node",
            host: context.link.host,
            port: event.port,
          })),
        },
        "link.pex": {
          actions: sendParent((
            { context, event },
          ) => ({ type: "peer.pex", key: context.key, peers: event.peers } satisfies PeerPex)),
        },
        "choke": { actions: ["forwardToLink", assign({ amChoking: true })] },
        "unchoke": { actions: ["forwardToLink", assign({ amChoking: false, unchokedAt: () => Date.now() })] },
      },
      states: {
        choked: {
          entry: "markTime",
          on: { "link.unchoked": { target: "downloading", actions: "report" } },
          // A peer that chokes us and wants nothing of ours is of no use either way; one that wants our pieces
          // stays (a seeder's leechers choke it as a rule): the time-out starts again.
          after: {
            chokedTimeout: [
              { guard: "wantsOurs", target: "choked", reenter: true },
              {
                target: "#peer.failed",
                actions: assign({
                  reason: ({ context }) => `choked us for ${context.timeouts.chokedMs / 1000} s`,
                }),
              },
            ],
          },
        },
        downloading: {
          entry: "markTime",
          on: {
            "assign": { actions: "forwardToLink" },
            "cancel": { actions: "forwardToLink" },
            "link.pieces": { actions: ["report", "countPieces"] },
            "link.choked": { target: "choked", actions: "report" },
            "link.stalled": { target: "#peer.failed", actions: "setReason" },
          },
        },
      },
    },
    // Not a final state: a peer's address is its actor id, and XState caches, on every state node of the parent
    // that sees it, the transitions for each event type it has met; a final state would send the swarm
    // `xstate.done.actor.<address>`, a new type for every connection that came from a new port, kept for good.
    // The link is stopped here as a final state would; the swarm stops this actor when told `peer.closed`.
    failed: {
      on: { "link.closed": {}, "ban": {}, "close": {} },
      entry: [
        "markTime",
        stopChild("link"),
        // Gone, whatever ended it (a duplicate ends at its handshake, which `report` would read as a hello).
        sendTo(
          ({ context }) => context.coordinator,
          ({ context }) => ({ type: "peer.gone", key: context.key }),
        ),
        sendParent(({ context }) => ({
          type: "peer.closed",
          key: context.key,
          reason: context.reason ?? "closed",
          handshaken: context.peerId !== undefined,
          pieces: context.pieces,
        } satisfies PeerClosed)),
      ],
    },
  },
});
