/**
 * What the supervisor (torrent.ts) works with, apart from its state chart: its input, context and events, and its
 * one-shot jobs (listen, open and check the storage, flush and announce when leaving).
 *
 * @module
 */

import { fromPromise } from "xstate";
import { globalIpv6, type PeerAddress } from "../src/common/peer_address.ts";
import { type Magnet } from "../src/metainfo/magnet.ts";
import { type Metainfo, paddingPieces } from "../src/metainfo/metainfo.ts";
import { LocalPieces } from "../src/pieces/local_pieces.ts";
import { PieceWriters } from "../src/pieces/piece_writers.ts";
import { checkPieces } from "../src/storage/check.ts";
import type { ResumeStore } from "../src/storage/resume.ts";
import type { Storage } from "../src/storage/storage.ts";
import { AddressBook } from "../src/swarm/address_book.ts";
import { UdpTrackerClient } from "../src/tracker/udp_client.ts";
import type { Message } from "../src/wire/wire.ts";
import type { EncryptionMode } from "../src/peer/connection.ts";
import { openSockets, type TorrentSockets } from "./acceptor.ts";
import type { UdpPort } from "../src/common/udp_port.ts";
import { type Dial, dialUtpFirst } from "../src/peer/dial.ts";
import type { UtpEndpoint } from "../src/utp/endpoint.ts";
import type { CoordinatorInput, Stats } from "./coordinator.ts";
import type { DhtOptions, DhtReport } from "./dht.ts";
import type { MagnetInput, MagnetReport } from "./magnet.ts";
import type { PeerTimeouts } from "./peer.ts";
import type { SwarmInput, SwarmReport } from "./swarm.ts";
import type { WebSeedOptions } from "./web_seed.ts";
import { announceEvent, announceParams, type AnnounceSubject, type TrackerSetup } from "./tracker.ts";

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
  /** Find peers through the Mainline DHT too, joining through these nodes; absent: no DHT. */
  dht?: DhtOptions;
  /** How web seeds are used, or `false` for none. */
  webSeeds?: WebSeedOptions | false;
  /** Message Stream Encryption for every peer connection (default `off` here; the client's is `prefer`). */
  encryption?: EncryptionMode;
  /** uTP (BEP 29) beside TCP, on the DHT's UDP port (default off here; the client's is on). */
  utp?: boolean;
  /** Sees every peer wire message after the handshakes, each way (debugging). */
  wireTrace?: (key: string, direction: "in" | "out", msg: Message) => void;
}

/**
 * The supervisor's context. Values are replaced with `assign`, never changed in place; the objects the phases and
 * the swarm share (the address book, the tracker setup, what we have, the storage) are created once and changed
 * only through their own methods.
 */
export interface TorrentContext {
  input: TorrentInput;
  meta?: Metainfo;
  /** The port we listen on, or the requested one when we do not listen. */
  port: number;
  listener?: Deno.TcpListener;
  /** The UDP port the DHT and uTP share, and uTP on it, with the dial that tries uTP first. */
  udp?: UdpPort;
  utp?: UtpEndpoint;
  dial?: Dial;
  /** Every address heard of, from the magnet phase to the end. */
  book: AddressBook;
  trackers: TrackerSetup;
  storage?: Storage;
  /** Write grants of the pieces streamed to disk (when the storage writes synchronously). */
  writers?: PieceWriters;
  ours?: LocalPieces;
  resume?: ResumeStore;
  complete: boolean;
  error?: string;
  stats?: Stats;
  /** For a person watching: how the metadata fetch goes, and what the trackers said last. */
  status: { metadata?: string; tracker?: string };
  seedingSince?: number;
}

/** What the supervisor hears: from its phases, its coordinator, its swarm, its tick, and `stop` from outside. */
export type TorrentEvent =
  | MagnetReport
  | SwarmReport
  | DhtReport
  /** Time to announce to the DHT again (every 15 minutes). */
  | { type: "dht.reannounce" }
  | { type: "peer.strike"; key: string; index: number }
  | { type: "coordinator.complete" }
  | { type: "tick" }
  | { type: "stop" };

/** Data that cannot be seeded because it is incomplete. */
class SeedError extends Error {}

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
    meta.pieceHashes,
  );
}

/**
 * Binds the listening socket on the requested port or the next free one (none when the torrent does not listen),
 * and the UDP port of the same number when the DHT or uTP may use it.
 */
export const listenJob = fromPromise<TorrentSockets, TorrentInput>(({ input }) =>
  openSockets(input.port, input.listen, {
    udp: input.dht !== undefined || input.utp === true,
    utp: input.utp === true,
  })
);

/** Opens the storage and checks what is there (or trusts the resume record); fails with a one-line reason. */
export const openJob = fromPromise<
  { storage: Storage; resume?: ResumeStore; ours: LocalPieces },
  { input: TorrentInput; meta: Metainfo }
>(async ({ input: { input, meta } }) => {
  try {
    const { storage, existed, resume } = await input.openStorage(meta);
    let ours = new LocalPieces(meta.pieceCount);
    if (existed) {
      const hint = input.forceCheck ? undefined : await resume?.load(meta);
      ours = new LocalPieces(meta.pieceCount, hint ?? await checkPieces(meta, storage));
    }
    for (const i of paddingPieces(meta)) ours.have.set(i); // padding only: nothing to fetch
    if (input.seedOnly && !ours.have.complete) {
      storage.close();
      throw new SeedError(`only ${ours.have.count} of ${meta.pieceCount} pieces are on disk and verified`);
    }
    return { storage, resume, ours };
  } catch (e) {
    const why = (e as Error).message;
    throw new Error(e instanceof SeedError ? `cannot seed: ${why}` : `cannot open the output: ${why}`);
  }
});

/** What the last job needs: the data to flush, the record to save, and whom to tell which events. */
export interface FinishInput {
  storage?: Storage;
  ours?: LocalPieces;
  resume?: ResumeStore;
  meta?: Metainfo;
  trackers: TrackerSetup;
  subject: AnnounceSubject;
  events: ("completed" | "stopped")[];
}

/** Flushes the data, saves the resume record, then tells the trackers that heard `started` each of `events`. */
export const finishJob = fromPromise<void, FinishInput>(async ({ input }) => {
  const { resume, ours, meta } = input;
  const flushed = input.storage?.sync() ?? Promise.resolve();
  // Only flushed data may be vouched for: a store that can wait for the flush itself is told now, another once it
  // is done. A record is a hint, so failing to write it is no error.
  const early = ours && meta && resume?.saveOnceFlushed?.(meta, ours.have, flushed).catch(() => {});
  try {
    await flushed;
  } finally {
    input.storage?.close(); // a seeder's reads reopen the files
  }
  if (ours && meta && resume && !resume.saveOnceFlushed) await resume.save(meta, ours.have).catch(() => {});
  await early;
  for (const event of input.events) {
    const params = { ...announceParams(input.subject, input.trackers.ipv6), event };
    await announceEvent(input.trackers.announced, params, input.trackers.options);
  }
});

/** The supervisor's context at the start: the address book and the tracker setup are made here, once. */
export function initialContext(input: TorrentInput): TorrentContext {
  const timeoutMs = input.trackerTimeoutMs ?? 15_000;
  return {
    input,
    meta: input.meta,
    port: input.port,
    book: new AddressBook(input.port),
    trackers: {
      options: {
        udp: new UdpTrackerClient({ retryBaseMs: input.udpRetryMs }),
        timeoutMs,
        udpTimeoutMs: 3 * timeoutMs,
      },
      announced: new Set(),
      retryMs: input.trackerRetryMs,
      // A tracker gives each of its swarm's peers out at random; with room for more peers than 80, ask for as many.
      numwant: Math.max(80, input.maxPeers ?? 0),
    },
    complete: false,
    status: {},
  };
}

/** The context once we listen: the socket, the port we got, and the address book with the peers we were given. */
export function listening(ctx: TorrentContext, sockets: TorrentSockets): Partial<TorrentContext> {
  const { listener, udp, utp } = sockets;
  const addr = listener?.addr as Deno.NetAddr | undefined;
  const port = addr?.port ?? ctx.port;
  const book = new AddressBook(port);
  book.add(ctx.input.peers ?? [], "given");
  // Listening on IPv6 too: trackers are told our global IPv6 address, if the machine has one (BEP 7).
  const ipv6 = addr?.hostname === "::" ? globalIpv6() : undefined;
  const dial = utp && dialUtpFirst(utp);
  return { listener, udp, utp, dial, port, book, trackers: { ...ctx.trackers, ipv6 } };
}

/** `--seed-ratio` or `--seed-time` reached. */
export function seedLimitReached(ctx: TorrentContext): boolean {
  const { ratio, timeMs } = ctx.input.seed ?? {};
  const uploaded = ctx.ours?.uploaded ?? 0;
  const byRatio = ratio !== undefined && uploaded >= ratio * ctx.meta!.totalLength;
  const byTime = timeMs !== undefined && Date.now() - ctx.seedingSince! >= timeMs;
  return byRatio || byTime;
}

/** The torrent runs a DHT node: asked for, and not private (BEP 27; a magnet's privacy shows with its metadata). */
export function usesDht(ctx: TorrentContext): boolean {
  return ctx.input.dht !== undefined && !ctx.meta?.private;
}

/** The status a person watching sees, with what the magnet phase or the swarm just reported. */
export function statusWith(ctx: TorrentContext, event: TorrentEvent): TorrentContext["status"] {
  const e = event as Extract<TorrentEvent, { status: string }>;
  return e.type === "magnet.metadata"
    ? { ...ctx.status, metadata: e.status }
    : { ...ctx.status, tracker: e.status };
}

/** The torrent's infohash, from its metadata or its magnet link. */
export function infoHashOf(ctx: TorrentContext): Uint8Array {
  return ctx.meta?.infoHash ?? ctx.input.magnet!.infoHash;
}

/** The coordinator's input: the torrent, its storage and write grants, and what we have. */
export function coordinatorInput(ctx: TorrentContext): CoordinatorInput {
  return { meta: ctx.meta!, storage: ctx.storage!, writers: ctx.writers, ours: ctx.ours };
}

/** The magnet phase's input. */
export function magnetInput(ctx: TorrentContext): MagnetInput {
  return {
    magnet: ctx.input.magnet!,
    peerId: ctx.input.peerId,
    port: ctx.port,
    listening: ctx.listener !== undefined,
    book: ctx.book,
    trackers: ctx.trackers,
    noPeersTimeoutMs: ctx.input.noPeersTimeoutMs,
    encryption: ctx.input.encryption,
    dial: ctx.dial,
  };
}

/** The swarm's input: the torrent, its data and its address book, with the limits the user set. */
export function swarmInput(ctx: TorrentContext): SwarmInput {
  return {
    ...ctx.input,
    meta: ctx.meta!,
    port: ctx.port,
    listener: ctx.listener,
    utp: ctx.utp,
    dial: ctx.dial,
    book: ctx.book,
    ours: ctx.ours!,
    storage: ctx.storage!,
    writers: ctx.writers,
    trackers: ctx.trackers,
    seeding: ctx.input.seed !== undefined || ctx.input.seedOnly === true,
    dhtPort: usesDht(ctx) && ctx.listener ? ctx.port : undefined,
  };
}

/** The last job's input: flush, save the record, tell the trackers `events`. */
export function finishInput(ctx: TorrentContext, events: FinishInput["events"]): FinishInput {
  return { ...ctx, subject: subjectOf(ctx), events };
}

/** Who this torrent is to its trackers, from the supervisor's context. */
function subjectOf(ctx: TorrentContext): AnnounceSubject {
  return {
    infoHash: infoHashOf(ctx),
    peerId: ctx.input.peerId,
    port: ctx.port,
    meta: ctx.meta,
    ours: ctx.ours,
  };
}
