/**
 * What the supervisor (torrent.ts) works with, apart from its state chart: its input, context and events, the
 * link input its peers share, and its one-shot jobs (open and check the storage, parse fetched metadata, flush and
 * announce when leaving).
 *
 * @module
 */

import { type AnyActorRef, fromCallback, fromPromise } from "xstate";
import { checkPieces } from "../src/storage/check.ts";
import { LocalPieces } from "../src/pieces/local_pieces.ts";
import { type Magnet, torrentFromMetadata } from "../src/metainfo/magnet.ts";
import { type Metainfo, parseMetainfo } from "../src/metainfo/metainfo.ts";
import type { ResumeStore } from "../src/storage/resume.ts";
import type { Storage } from "../src/storage/storage.ts";
import { PieceWriters } from "../src/pieces/piece_writers.ts";
import type { AnnounceParams } from "../src/tracker/types.ts";
import type { PeerAddress } from "../src/common/peer_address.ts";
import type { TrackerOptions } from "../src/tracker/trackers.ts";
import type { Message } from "../src/wire/wire.ts";
import { type AcceptorEvent, bindListener } from "./acceptor.ts";
import type { AddressEntry } from "../src/swarm/address_book.ts";
import { coordinatorStats, type Stats } from "./coordinator.ts";
import type { MetadataEvent } from "./metadata.ts";
import type { PeerClosed, PeerContext, PeerPex, PeerTimeouts } from "./peer.ts";
import type { LinkInput } from "../src/peer/link.ts";
import { announceEvent, type TrackerEvent } from "./tracker.ts";

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
  /** Pieces larger than this are written as their blocks arrive, not assembled in memory (default 1 MiB). */
  streamAbove?: number;
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

export interface TorrentContext {
  input: TorrentInput;
  meta?: Metainfo;
  resume?: ResumeStore;
  /** How the metadata fetch of a magnet link goes, for a person watching. */
  metadataStatus?: string;
  /** Peers connected for the metadata that have it. */
  metadataPeers?: number;
  maxPeers: number;
  storage?: Storage;
  /** Write grants of the pieces streamed to disk (when the storage writes synchronously). */
  writers?: PieceWriters;
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

export type TorrentEvent =
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
export class SeedError extends Error {}

export const ticker = fromCallback(({ sendBack }) => {
  const id = setInterval(() => sendBack({ type: "tick" }), 1000);
  return () => clearInterval(id);
});

/**
 * Pieces larger than this go to disk as their blocks arrive. Measured on bench scenario (b), 4 MiB pieces, three
 * interleaved pairs of runs: streamed 3.2-4.0 s at 69-71 MiB, assembled 3.9-4.6 s at 83-84 MiB.
 */
export const STREAM_ABOVE = 1024 * 1024;

/** The write grants for a storage that writes synchronously; none for one that does not (all pieces assembled). */
export function pieceWriters(
  input: TorrentInput,
  meta: Metainfo,
  storage: Storage,
): PieceWriters | undefined {
  if (!storage.writeSync) return undefined;
  return new PieceWriters(
    (offset, data) => storage.writeSync!(offset, data),
    meta.pieceLength,
    input.streamAbove ?? STREAM_ABOVE,
  );
}

/** The link input every peer of this torrent shares, less the address and the socket. */
export function linkBase(
  ctx: TorrentContext,
  self: AnyActorRef,
  key: string,
): Omit<LinkInput, "host" | "port"> {
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
    writer: ctx.writers?.for(key),
    metadata: meta.rawInfo,
    private: meta.private,
    listenPort: ctx.listener ? ctx.port : undefined,
    pexPeers: () => pexPeers(ctx, self.getSnapshot().children),
    pexIntervalMs: ctx.input.pexIntervalMs,
    trace: wireTrace && ((direction, msg) => wireTrace(key, direction, msg)),
  };
}

/** The peers we are connected to, at their listen addresses (an incoming peer's only if it told us its port). */
function pexPeers(ctx: TorrentContext, children: Record<string, AnyActorRef | undefined>): PeerAddress[] {
  return peerContexts(ctx, children).flatMap((p) => {
    const port = p.incoming ? p.listenPort : p.link.port;
    return port ? [{ host: p.link.host, port }] : [];
  });
}

export function peerContexts(
  ctx: TorrentContext,
  children: Record<string, AnyActorRef | undefined>,
): PeerContext[] {
  const out: PeerContext[] = [];
  for (const key of ctx.active) {
    const snap = children[key]?.getSnapshot() as { context?: PeerContext; matches?: (s: string) => boolean };
    if (snap?.context && snap.matches?.("connected")) out.push(snap.context);
  }
  return out;
}

/** Opens the storage, checks what is there (or trusts the resume record), and listens. */
export const openJob = fromPromise<
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
});

/** Parses fetched metadata (already checked against the infohash) into a torrent. */
export const parseMetadataJob = fromPromise<Metainfo, { info: Uint8Array; trackers: string[][] }>((
  { input },
) => parseMetainfo(torrentFromMetadata(input.info, input.trackers)));

/** Flushes the data, saves the resume record, then tells trackers `events`. */
export const finishJob = fromPromise<void, { ctx: TorrentContext; events: ("completed" | "stopped")[] }>(
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
);

export function announceParams(
  ctx: TorrentContext,
  coordinator?: AnyActorRef,
): Omit<AnnounceParams, "event"> {
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
