/**
 * What a library user hands a download and gets back: its options, its progress, its result, and the supervisor
 * actor as the user sees it.
 *
 * @module
 */

import type { Metainfo } from "../src/metainfo/metainfo.ts";
import type { ResumeStore } from "../src/storage/resume.ts";
import type { Storage } from "../src/storage/storage.ts";
import type { PeerAddress } from "../src/common/peer_address.ts";
import type { Stats } from "./coordinator.ts";
import type { PeerTimeouts } from "./peer.ts";
import type { DhtOptions } from "./dht.ts";
import type { WebSeedOptions } from "./web_seed.ts";
import type { EncryptionMode } from "../src/peer/connection.ts";
import type { AddressEntry } from "../src/swarm/address_book.ts";
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
  /** Connections peers opened to us that were closed before they sent a byte (too many at once, or too long). */
  silentClosed: number;
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
