/**
 * The library's handle on a download: starts a torrent actor, exposes its live state (progress and every peer
 * actor's state) and resolves when the actor ends.
 *
 * @module
 */

import { type Actor, createActor, type InspectionEvent } from "xstate";
import type { Metainfo } from "../src/metainfo/metainfo.ts";
import { FileResume, resumePath, type ResumeStore } from "../src/storage/resume.ts";
import { FileStorage, type Storage } from "../src/storage/storage.ts";
import type { PeerAddress } from "../src/common/peer_address.ts";
import { coordinatorAssignments, coordinatorPieceMap, coordinatorStats, type Stats } from "./coordinator.ts";
import type { Sample } from "../src/ui/trace.ts";
import type { PeerTimeouts } from "./peer.ts";
import type { DhtOptions } from "./dht.ts";
import type { WebSeedOptions } from "./web_seed.ts";
import type { EncryptionMode } from "../src/peer/connection.ts";
import { dhtSample, haveMap, type PeerView, peerViews, stateName } from "./client_views.ts";

export type { PeerView } from "./client_views.ts";
import { torrentMachine } from "./torrent.ts";
import type { OpenedStorage } from "./torrent_context.ts";
import type { AddressEntry } from "../src/swarm/address_book.ts";
import type { Magnet } from "../src/metainfo/magnet.ts";
import type { Message } from "../src/wire/wire.ts";

/**
 * One XState inspection event as `inspect` receives it (XState's `InspectionEvent`): an actor created
 * (`@xstate.actor`), an event received (`@xstate.event`), a new snapshot (`@xstate.snapshot`), a microstep or
 * an action.
 */
export type Inspection =
  | {
    type: "@xstate.event";
    /** The actor that received the event (an XState actor reference). */
    actorRef: unknown;
    /** The event; its other fields depend on its `type`. */
    event: { type: string; readonly [field: string]: unknown };
  }
  | {
    type: "@xstate.snapshot";
    actorRef: unknown;
    /** The event that led to the snapshot. */
    event: { type: string; readonly [field: string]: unknown };
    /** The actor's new snapshot. */
    snapshot: unknown;
  }
  | { type: "@xstate.actor" | "@xstate.microstep" | "@xstate.action"; actorRef: unknown };

/** The supervisor actor as a library user handles it (an XState actor underneath). */
export interface TorrentActor {
  /**
   * Its current snapshot: `value` is its state (such as `{ active: "downloading" }`), `status` "active" or
   * "done", `children` its child actors by id (`coordinator`, `swarm`, `dht`, …).
   */
  getSnapshot(): {
    value: unknown;
    status: string;
    context: unknown;
    children: Record<string, { getSnapshot(): unknown } | undefined>;
  };
  /** Sends it an event: `{ type: "stop" }` stops the download. */
  send(event: { type: string }): void;
  /** Hears each new snapshot. */
  subscribe(next: (snapshot: { value: unknown; status: string }) => void): { unsubscribe(): void };
  /** Hears each new snapshot, and the end. */
  subscribe(observer: {
    next?(snapshot: unknown): void;
    complete?(): void;
    error?(error: unknown): void;
  }): { unsubscribe(): void };
}

/** How a download runs: where its data goes, which port it listens on, how it seeds, and its limits. */
export interface DownloadOptions {
  /**
   * The output file (single-file torrent) or folder (multi-file torrent), or a function that chooses it once the
   * metadata is known (a magnet link's comes from peers). Ignored when `storage` is given.
   */
  out?: string | ((meta: Metainfo) => string | Promise<string>);
  /** Where pieces go instead of files under `out`. */
  storage?: (meta: Metainfo) => Promise<{ storage: Storage; existed: boolean }>;
  /** Port to listen on, or the next free one (default 6881); the port we get is announced. */
  port?: number;
  /** Address to listen on (default all interfaces); `false` accepts no connections. */
  listen?: string | false;
  /** Keep seeding after completion: until stopped, or until the ratio or the time is reached. */
  seed?: { ratio?: number; timeMs?: number };
  /** Seed existing data only: incomplete data is an error. */
  seedOnly?: boolean;
  /** Regular unchoke slots (default 4), plus one optimistic. */
  uploadSlots?: number;
  /** Peer connections open at once (default 50). */
  maxPeers?: number;
  /** Peers to dial besides those the trackers give. */
  peers?: PeerAddress[];
  /** Our peer id (default: a fresh one from `makePeerId`). */
  peerId?: Uint8Array;
  /** The download fails when it has had no peer for this long and no tracker gave any (default 120 s). */
  noPeersTimeoutMs?: number;
  /** A tracker request's time budget (default 15 s). */
  trackerTimeoutMs?: number;
  /** First retry delay after a failed announce (default 5 s); doubles up to five minutes. */
  trackerRetryMs?: number;
  /** First UDP tracker retransmission delay (BEP 15: 15 s). */
  udpRetryMs?: number;
  /** Per-peer time-outs (connect, handshake, choked, stall); defaults in DEFAULT_TIMEOUTS. */
  timeouts?: Partial<PeerTimeouts>;
  /** Pieces that fail their hash before the peer that sent them is banned (default 3). */
  maxStrikes?: number;
  /** Hash all existing data even when the resume record vouches for it. */
  check?: boolean;
  /**
   * Pieces larger than this many bytes are hashed and written as their blocks arrive instead of being assembled
   * in memory, so memory does not grow with the piece size (default 1 MiB; needs a storage with `writeSync`).
   */
  streamAbove?: number;
  /** Where the verified-piece hint lives (default: beside `out`, when `out` is given). */
  resume?: ResumeStore;
  /** How often peers are told about our other peers (BEP 11: at most once a minute, the default). */
  pexIntervalMs?: number;
  /**
   * Find peers through the Mainline DHT too (BEP 5), joining through `bootstrap` nodes; the DHT's UDP port is the
   * listening port's number. Absent: no DHT (the CLI turns it on with the well-known routers unless `--no-dht`).
   * Private torrents never use it.
   */
  dht?: DhtOptions;
  /**
   * How the torrent's web seeds (BEP 19 `url-list`, and `httpseeds`) are used: back-off, failures and strikes
   * before one is dropped; `false` uses none. Default: every web seed the torrent lists, with the defaults.
   */
  webSeeds?: WebSeedOptions | false;
  /**
   * Message Stream Encryption (MSE/PE) with peers: `prefer` (the default: dial encrypted and fall back to
   * plaintext, take either when dialled), `require` (never a BitTorrent byte in plaintext) or `off`.
   */
  encryption?: EncryptionMode;
  /** uTP (BEP 29) beside TCP, in and out, on the DHT's UDP port (default true); `false`: TCP only. */
  utp?: boolean;
  /** Receives XState inspection events for every actor (live views, traces). */
  inspect?(event: Inspection): void;
  /** Sees every peer wire message after the handshakes, each way, with the peer's key (debugging). */
  wireTrace?: (key: string, direction: "in" | "out", msg: Message) => void;
}

/** A snapshot of a download for display. */
export interface Progress {
  /** The supervisor's state: metadata, checking, active.downloading, active.seeding, done, stopped, failed… */
  state: string;
  /** How the metadata fetch of a magnet link goes. */
  metadata?: string;
  /** The torrent's size in bytes (0 until a magnet link's metadata is known). */
  totalBytes: number;
  /** Bytes in pieces verified on disk. */
  verifiedBytes: number;
  /** Payload bytes received from peers, verified or not. */
  receivedBytes: number;
  /** Pieces in the torrent. */
  pieceCount: number;
  /** Pieces verified on disk. */
  verifiedPieces: number;
  /** Pieces that failed their hash check. */
  hashFailures: number;
  /** Payload bytes uploaded to peers. */
  uploadedBytes: number;
  /** The port we listen on. */
  port: number;
  /** Peer actors alive now, and how many of them completed the handshake. */
  peers: number;
  /** Peer actors past the handshake. */
  connectedPeers: number;
  /** Addresses heard of (trackers, PEX, given), connected or not. */
  knownPeers: number;
  /** What the trackers said last: peers, an error or a warning. */
  tracker?: string;
}

/** The outcome of a download. */
export interface DownloadResult {
  /** True when every piece is verified on disk. */
  ok: boolean;
  /** True when the download was stopped before it completed. */
  stopped: boolean;
  /** Why the download failed, in one line. */
  error?: string;
  /** Counts of what moved: bytes, pieces, hash failures, strikes. */
  stats?: Stats;
  /** Addresses the client heard of, with their strikes and bans. */
  book: Map<string, AddressEntry>;
}

/** An Azureus-style peer id: `-AX0100-` and 12 random characters. */
export function makePeerId(): Uint8Array {
  const alphabet = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
  const random = crypto.getRandomValues(new Uint8Array(12));
  const tail = Array.from(random, (b) => alphabet[b % alphabet.length]).join("");
  return new TextEncoder().encode(`-AX0100-${tail}`);
}

/** A running download. */
export class DownloadSession {
  /** The supervisor actor itself: subscribe to it, or send it `stop`. */
  readonly actor: TorrentActor;
  /** The same actor, with its machine's types, for the reads below. */
  readonly #torrent: Actor<typeof torrentMachine>;
  /** Settles once the download ends, whichever way. */
  readonly done: Promise<DownloadResult>;

  /** The output path, once chosen (at once for a .torrent, after the metadata for a magnet link). */
  out?: string;

  /** Starts the supervisor actor for a torrent or a magnet link. */
  constructor(source: Metainfo | Magnet, options: DownloadOptions) {
    const isMagnet = !("pieceCount" in source);
    const openStorage = async (m: Metainfo): Promise<OpenedStorage> => {
      if (options.storage) return { ...await options.storage(m), resume: options.resume };
      if (!options.out) throw new TypeError("download needs `out` or `storage`");
      const out = typeof options.out === "string" ? options.out : await options.out(m);
      this.out = out;
      const opened = await FileStorage.open(m, out);
      return { ...opened, resume: options.resume ?? new FileResume(resumePath(out), opened.storage.paths) };
    };
    if (typeof options.out === "string") this.out = options.out;
    this.#torrent = createActor(torrentMachine, {
      input: {
        meta: isMagnet ? undefined : source,
        magnet: isMagnet ? source : undefined,
        peers: [...(isMagnet ? source.peers : []), ...(options.peers ?? [])],
        pexIntervalMs: options.pexIntervalMs,
        wireTrace: options.wireTrace,
        peerId: options.peerId ?? makePeerId(),
        port: options.port ?? 6881,
        openStorage,
        listen: options.listen,
        seed: options.seed,
        seedOnly: options.seedOnly,
        uploadSlots: options.uploadSlots,
        maxPeers: options.maxPeers,
        noPeersTimeoutMs: options.noPeersTimeoutMs,
        trackerTimeoutMs: options.trackerTimeoutMs,
        trackerRetryMs: options.trackerRetryMs,
        streamAbove: options.streamAbove,
        udpRetryMs: options.udpRetryMs,
        timeouts: options.timeouts,
        maxStrikes: options.maxStrikes,
        forceCheck: options.check,
        dht: options.dht,
        webSeeds: options.webSeeds,
        encryption: options.encryption ?? "prefer",
        utp: options.utp ?? true,
      },
      inspect: options.inspect as ((event: InspectionEvent) => void) | undefined,
    });
    this.actor = this.#torrent;
    this.done = new Promise((resolve) => {
      this.#torrent.subscribe({
        complete: () => {
          const snap = this.#torrent.getSnapshot();
          resolve({
            ok: snap.value === "done",
            stopped: snap.value === "stopped",
            error: snap.context.error,
            stats: snap.context.stats,
            book: snap.context.book.entries,
          });
        },
        error: (e) => resolve({ ok: false, stopped: false, error: (e as Error).message, book: new Map() }),
      });
    });
    this.#torrent.start();
  }

  /** Stops the download: peers are closed, trackers told `stopped`, written data flushed. */
  stop(): void {
    this.#torrent.send({ type: "stop" });
  }

  /** The torrent's metadata: at once for a .torrent, once fetched for a magnet link. */
  get meta(): Metainfo | undefined {
    return this.#torrent.getSnapshot().context.meta;
  }

  /** The download's progress now. */
  progress(): Progress {
    return this.#progress(this.peers());
  }

  #progress(peers: PeerView[]): Progress {
    const snap = this.#torrent.getSnapshot();
    const stats: Stats = coordinatorStats(snap.children.coordinator) ?? snap.context.stats ??
      { verifiedBytes: 0, verifiedPieces: 0, receivedBytes: 0, hashFailures: 0 };
    return {
      state: stateName(snap.value),
      metadata: snap.context.status.metadata,
      totalBytes: this.meta?.totalLength ?? 0,
      pieceCount: this.meta?.pieceCount ?? 0,
      ...stats,
      peers: peers.length,
      connectedPeers: peers.filter((p) => p.state.startsWith("connected")).length,
      knownPeers: snap.context.book.size,
      uploadedBytes: snap.context.ours?.uploaded ?? 0,
      port: snap.context.port,
      tracker: snap.context.status.tracker,
    };
  }

  /** The numbers a live view or a trace samples: progress, the piece map and every peer's rates. */
  sample(): Sample {
    const views = this.peers();
    const p = this.#progress(views);
    const snap = this.#torrent.getSnapshot();
    const meta = this.meta;
    const coordinator = snap.children.coordinator, fetching = coordinatorAssignments(coordinator);
    return {
      state: p.state,
      totalBytes: p.totalBytes,
      verifiedBytes: p.verifiedBytes,
      uploadedBytes: p.uploadedBytes,
      knownPeers: p.knownPeers,
      pieces: coordinatorPieceMap(coordinator) ??
        haveMap(snap.context.ours?.have, meta?.pieceCount ?? 0),
      // Connected peers, and web seeds (over HTTP) that have not been dropped.
      peers: views.filter((v) => v.state.startsWith("connected") || v.transport === "http").map((v) => ({
        inFlight: fetching.get(v.key),
        id: v.key,
        client: v.client,
        // How the bytes travel, as the live view shows it: "utp rc4", "tcp plain", "http".
        transport: v.via ? `${v.via} ${v.transport}` : v.transport,
        down: Math.round(v.rates.down),
        up: Math.round(v.rates.up),
        pieces: v.pieces,
        incoming: v.incoming,
      })),
      tracker: p.tracker ?? p.metadata,
      dht: dhtSample(this.#torrent.getSnapshot().children.dht),
    };
  }

  /** Every live peer actor and its state. */
  peers(): PeerView[] {
    return peerViews(this.#torrent.getSnapshot().children.swarm);
  }
}

/** Starts downloading a torrent, or a magnet link (its metadata first); see `DownloadSession`. */
export function startDownload(source: Metainfo | Magnet, options: DownloadOptions): DownloadSession {
  return new DownloadSession(source, options);
}
