/**
 * The library's handle on a download: starts a torrent actor, exposes its live state (progress and every peer
 * actor's state) and resolves when the actor ends.
 *
 * @module
 */

import { type Actor, createActor, type InspectionEvent } from "xstate";
import type { Metainfo } from "../src/metainfo/metainfo.ts";
import { FileResume, resumePath } from "../src/storage/resume.ts";
import { FileStorage } from "../src/storage/storage.ts";
import { coordinatorAssignments, coordinatorPieceMap, coordinatorStats, type Stats } from "./coordinator.ts";
import type { Sample } from "../src/ui/trace.ts";
import { dhtSample, haveMap, type PeerView, peerViews, silentClosed, stateName } from "./client_views.ts";
import { torrentMachine } from "./torrent.ts";
import type { OpenedStorage } from "./torrent_context.ts";
import type { Magnet } from "../src/metainfo/magnet.ts";
import type { DownloadOptions, DownloadResult, Progress, TorrentActor } from "./client_types.ts";

export type { PeerView } from "./client_views.ts";
export type { DownloadOptions, DownloadResult, Inspection, Progress, TorrentActor } from "./client_types.ts";

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
      silentClosed: silentClosed(snap.children.swarm),
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
      silentClosed: p.silentClosed,
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
