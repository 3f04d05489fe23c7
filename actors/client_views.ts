/**
 * What a person sees of a running download, read from the actors' snapshots in one place: each peer actor's
 * state and numbers, the DHT node's numbers, and the piece map once the coordinator is gone. The library handle
 * (`client.ts`) and, through it, the CLI, the live view and the trace use these.
 *
 * @module
 */

import type { AnyActorRef } from "xstate";
import { addressKey } from "../src/swarm/address_book.ts";
import type { Bitfield } from "../src/common/bitfield.ts";
import type { DhtSample } from "../src/ui/trace.ts";
import type { DhtContext } from "./dht.ts";
import { listenAddress, type PeerContext } from "./peer.ts";
import type { WebSeedContext } from "./web_seed.ts";

/** One peer actor as a person debugging the swarm sees it. */
export interface PeerView {
  /** The peer's address as `host:port`. */
  key: string;
  /** The peer actor's state, such as `connected.downloading`. */
  state: string;
  /** The peer's client, read from its peer id. */
  client?: string;
  /** How the bytes travel: `plain`, `rc4`, `obfuscated` (plaintext after an encrypted handshake), or `http`. */
  transport?: string;
  /** What carries a peer's bytes: `tcp` or `utp` (absent for a web seed). */
  via?: "tcp" | "utp";
  /** Pieces the peer has. */
  pieces: number;
  /** Milliseconds in the current state. */
  sinceMs: number;
  /** The peer dialled us. */
  incoming: boolean;
  /** Where the peer listens (`host:port`): its key when we dialled it; told in its extension handshake otherwise. */
  listensAt?: string;
  /** The peer wants what we have, and whether we let it. */
  peerInterested: boolean;
  /** We choke the peer. */
  amChoking: boolean;
  /** Payload bytes per second, each way. */
  rates: { down: number; up: number };
}

/** A machine state value as a dotted name: `{ connected: "choked" }` is `connected.choked`. */
export function stateName(value: unknown): string {
  if (typeof value === "string") return value;
  const [k, v] = Object.entries(value as Record<string, unknown>)[0];
  return `${k}.${stateName(v)}`;
}

/** A piece map from what we have, when the coordinator is gone. */
export function haveMap(have: Bitfield | undefined, pieceCount: number): string {
  let out = "";
  for (let i = 0; i < pieceCount; i++) out += have?.has(i) ? "v" : ".";
  return out;
}

/** Connections the swarm's acceptor closed before they sent a byte (0 before the swarm starts). */
export function silentClosed(swarm: AnyActorRef | undefined): number {
  const context = (swarm?.getSnapshot() as { context?: { silent?: { closedSilent: number } } } | undefined)
    ?.context;
  return context?.silent?.closedSilent ?? 0;
}

/** Every live peer actor and web seed actor of the swarm, and its state. */
export function peerViews(swarm: AnyActorRef | undefined): PeerView[] {
  const now = Date.now();
  const views: PeerView[] = [];
  const children =
    (swarm?.getSnapshot() as { children?: Record<string, AnyActorRef | undefined> } | undefined)
      ?.children ?? {};
  for (const child of Object.values(children)) {
    const snap = child?.getSnapshot() as { value?: unknown; context?: PeerContext } | undefined;
    const ctx = snap?.context;
    const web = snap?.context as WebSeedContext | undefined;
    if (web?.key && web.queue) {
      views.push({
        key: web.key,
        state: stateName(snap!.value),
        client: "web seed",
        transport: "http",
        pieces: web.meta.pieceCount,
        sinceMs: now - web.since,
        incoming: false,
        peerInterested: false,
        amChoking: true,
        rates: web.rates,
      });
      continue;
    }
    if (!ctx?.key || !ctx.link) continue;
    const listening = listenAddress(ctx);
    views.push({
      key: ctx.key,
      state: stateName(snap!.value),
      client: ctx.client,
      transport: ctx.transport,
      via: ctx.via,
      pieces: ctx.pieces,
      sinceMs: now - ctx.since,
      incoming: ctx.incoming,
      listensAt: listening && addressKey(listening),
      peerInterested: ctx.peerInterested,
      amChoking: ctx.amChoking,
      rates: ctx.rates,
    });
  }
  return views;
}

/** The DHT node's numbers, read from its actor's snapshot; undefined when it does not run. */
export function dhtSample(dht: AnyActorRef | undefined): DhtSample | undefined {
  const snap = dht?.getSnapshot() as { value: string; context: DhtContext; children: object } | undefined;
  if (!snap) return undefined;
  const c = snap.context;
  return {
    state: snap.value,
    nodes: c.node?.table.size ?? 0,
    buckets: c.node?.table.bucketCount ?? 0,
    lookups: c.lookups,
    running: Object.keys(snap.children).filter((k) => k.startsWith("lookup-")).length,
    peersFound: c.peersFound,
    received: c.node?.stats.received ?? 0,
    sent: c.node?.stats.sent ?? 0,
    malformed: c.node?.stats.malformed ?? 0,
  };
}
