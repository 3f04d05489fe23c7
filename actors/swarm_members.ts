/**
 * What the swarm is given (`SwarmInput`), and its members as the swarm sees them: the link input each peer actor
 * starts with, the subject the tracker announces, and the peers and web seeds alive now, read from the swarm's
 * children (the one place their snapshots are read).
 *
 * @module
 */

import type { Dial } from "../src/peer/dial.ts";
import type { UtpEndpoint } from "../src/utp/endpoint.ts";
import type { AnyActorRef } from "xstate";
import type { Metainfo } from "../src/metainfo/metainfo.ts";
import type { LocalPieces } from "../src/pieces/local_pieces.ts";
import type { PieceWriters } from "../src/pieces/piece_writers.ts";
import type { Storage } from "../src/storage/storage.ts";
import type { AddressBook } from "../src/swarm/address_book.ts";
import type { Message } from "../src/wire/wire.ts";
import type { PexPeer } from "../src/wire/extension.ts";
import type { LinkInput } from "../src/peer/link_events.ts";
import type { EncryptionMode } from "../src/peer/connection.ts";
import { listenAddress, type PeerContext, type PeerTimeouts } from "./peer.ts";
import type { AnnounceSubject, TrackerSetup } from "./tracker.ts";
import type { WebSeedOptions } from "./web_seed.ts";

/** What the swarm works with: the torrent and its data, the address book, and the swarm's limits. */
export interface SwarmInput {
  meta: Metainfo;
  peerId: Uint8Array;
  /** The port we listen on (announced), or the requested one when we do not listen. */
  port: number;
  listener?: Deno.TcpListener;
  /** uTP connections in (through the acceptor) and out (`dial`), when uTP is on. */
  utp?: UtpEndpoint;
  /** How peers are dialled (default TCP alone). */
  dial?: Dial;
  /** The torrent's address book; the swarm changes it through its methods only. */
  book: AddressBook;
  /** What we have: read by the links to serve and announce pieces. */
  ours: LocalPieces;
  storage: Storage;
  writers?: PieceWriters;
  trackers: TrackerSetup;
  /** Keep dialling once complete (we seed); otherwise a complete swarm dials nobody. */
  seeding: boolean;
  maxPeers?: number;
  /**
   * Peers dialled at once when the swarm starts, and at most each second after (default 30, libtorrent's
   * `connection_speed`). Dialled all at once, 200 seeders' handshakes, bitfields and first blocks came within
   * the same half second, and the download's memory peaked then.
   */
  dialsPerSecond?: number;
  timeouts?: Partial<PeerTimeouts>;
  /** Strikes (pieces that failed the hash) before a peer is banned (default 3). */
  maxStrikes?: number;
  /** Regular unchoke slots (default 4), plus one optimistic. */
  uploadSlots?: number;
  /** Time without a connected peer, while downloading, before the swarm reports `swarm.no-peers` (default 120 s). */
  noPeersTimeoutMs?: number;
  pexIntervalMs?: number;
  /** Our DHT node's UDP port, when it runs: peers are told it, and tell us theirs. */
  dhtPort?: number;
  wireTrace?: (key: string, direction: "in" | "out", msg: Message) => void;
  /** Message Stream Encryption for every peer connection. */
  encryption?: EncryptionMode;
  /**
   * Peers that dialled us and are still in their handshake (default 8) past which the oldest makes room once it
   * has had `HANDSHAKE_GRACE_MS` to finish; whatever its age once they hold half of `maxPeers`.
   */
  maxHalfOpen?: number;
  /** How the torrent's web seeds (BEP 19) behave, or `false` to use none. */
  webSeeds?: WebSeedOptions | false;
}

type Children = Record<string, AnyActorRef | undefined>;

const childrenOf = (swarm: AnyActorRef) => (swarm.getSnapshot() as { children: Children }).children;

type PeerSnapshot = { context: PeerContext; value: unknown };

/** Every peer actor's snapshot among the swarm's children (web seeds and the rest left out). */
function peerSnapshots(swarm: AnyActorRef): PeerSnapshot[] {
  const out: PeerSnapshot[] = [];
  for (const child of Object.values(childrenOf(swarm))) {
    const snap = child?.getSnapshot() as Partial<PeerSnapshot> | undefined;
    if (snap?.context?.link && "value" in snap) out.push(snap as PeerSnapshot);
  }
  return out;
}

/**
 * Whether a peer's machine is in `connected` (any of its substates). Read from the state value, not through
 * `matches("connected")`, which parses its argument into new arrays and objects on every call: with 200 peers
 * handshaking at once, each asking whether its peer id is connected already, that was 40,000 calls.
 */
function isConnected(s: PeerSnapshot): boolean {
  return typeof s.value === "object" && s.value !== null && "connected" in s.value;
}

/** The peers connected now, read from the swarm's children: the one place their snapshots are read. */
export function connectedPeers(swarm: AnyActorRef): PeerContext[] {
  return peerSnapshots(swarm).filter(isConnected).map((s) => s.context);
}

/**
 * The peers that dialled us and have not finished the handshake, with when they began it, the longest waiting
 * first: a flood of silent connections is held to a few of them.
 */
export function halfOpenIncoming(swarm: AnyActorRef): { key: string; since: number }[] {
  return peerSnapshots(swarm)
    .filter((s) => s.context.incoming && (s.value === "connecting" || s.value === "handshaking"))
    .sort((a, b) => a.context.since - b.context.since)
    .map((s) => ({ key: s.context.key, since: s.context.since }));
}

/** How many of the torrent's web seeds are alive (not given up) now. */
export function liveWebSeeds(swarm: AnyActorRef, urls: string[]): number {
  const children = childrenOf(swarm);
  return urls.filter((url) => children[url]?.getSnapshot()?.status === "active").length;
}

/** Whether the swarm has a connection up to the peer with a given id (for `PeerInput.alreadyConnected`). */
export function connectedTo(swarm: AnyActorRef): (peerId: string) => boolean {
  return (peerId) => peerSnapshots(swarm).some((s) => s.context.peerId === peerId && isConnected(s));
}

/** Each swarm's latest list of peers for PEX, and when it was read. */
const pexLists = new WeakMap<AnyActorRef, { at: number; signature: string; peers: readonly PexPeer[] }>();

/**
 * The peers connected now at their listen addresses, read at most once a second for the whole swarm and the same
 * array while nobody came or left: each link asks every second once its PEX interval has passed, and with 200
 * peers each reading 200 snapshots that was 40,000 objects a second; an unchanged list tells a link at once
 * that it has nothing new to send.
 */
export function pexPeersOf(swarm: AnyActorRef, now = Date.now()): readonly PexPeer[] {
  const last = pexLists.get(swarm);
  if (last && now - last.at < 1000) return last.peers;
  const peers = connectedPeers(swarm).flatMap((p) => listenAddress(p) ?? []);
  const signature = peers.map((p) => `${p.host}|${p.port}${p.seed ? "|s" : ""}`).join(" ");
  const list = last?.signature === signature ? last.peers : peers;
  pexLists.set(swarm, { at: now, signature, peers: list });
  return list;
}

/** The link input every peer of the swarm shares, less the address and the socket. */
export function linkBase(
  input: SwarmInput,
  swarm: AnyActorRef,
  key: string,
): Omit<LinkInput, "host" | "port"> {
  const { meta, storage, wireTrace } = input;
  return {
    infoHash: meta.infoHash,
    peerId: input.peerId,
    pieceLength: meta.pieceLength,
    pieceCount: meta.pieceCount,
    totalLength: meta.totalLength,
    ours: input.ours,
    readBlock: (offset, length) => storage.read(offset, length),
    readInto: storage.readInto && ((offset, into) => storage.readInto!(offset, into)),
    writer: input.writers?.for(key),
    metadata: meta.rawInfo,
    private: meta.private,
    listenPort: input.listener ? input.port : undefined,
    // The peers we are connected to, at their listen addresses (an incoming peer's only if it told us its port).
    pexPeers: () => pexPeersOf(swarm),
    pexIntervalMs: input.pexIntervalMs,
    dhtPort: input.dhtPort,
    encryption: input.encryption,
    dial: input.dial,
    trace: wireTrace && ((direction, msg) => wireTrace(key, direction, msg)),
  };
}

export function announceSubject(input: SwarmInput): AnnounceSubject {
  return {
    infoHash: input.meta.infoHash,
    peerId: input.peerId,
    port: input.port,
    meta: input.meta,
    ours: input.ours,
  };
}
