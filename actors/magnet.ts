/**
 * The magnet phase: a magnet link's metadata (BEP 9) fetched from peers and turned into a torrent. It finds peers
 * (the trackers, `x.pe`, `--peer`, PEX from metadata peers), hands every address it learns to the metadata
 * fetcher, and ends with the metainfo as its output, or with an error when no peer sent the metadata in time or
 * the metadata is not a valid torrent.
 *
 *   fetching ──metadata.done──→ parsing ──→ done (output: the metainfo)
 *      └── no peer in time ──→ failed       └──→ failed
 *
 * @module
 */

import type { Dial } from "../src/peer/dial.ts";
import { assign, enqueueActions, fromPromise, sendParent, sendTo, setup } from "xstate";
import { type Magnet, torrentFromMetadata } from "../src/metainfo/magnet.ts";
import { type Metainfo, parseMetainfo } from "../src/metainfo/metainfo.ts";
import type { AddressBook } from "../src/swarm/address_book.ts";
import type { EncryptionMode } from "../src/peer/connection.ts";
import { type MetadataEvent, metadataFetcher } from "./metadata.ts";
import { ticker } from "./ticker.ts";
import { trackerActor, type TrackerEvent, type TrackerSetup, trackerStatus } from "./tracker.ts";

/** What the magnet phase works with. */
export interface MagnetInput {
  magnet: Magnet;
  peerId: Uint8Array;
  /** The port we listen on (announced, and told to metadata peers), or the requested one when we do not listen. */
  port: number;
  listening: boolean;
  /** The torrent's address book: addresses learned here stay in it for the swarm. */
  book: AddressBook;
  trackers: TrackerSetup;
  /** No peer with the metadata for this long: the phase fails (default 120 s). */
  noPeersTimeoutMs?: number;
  /** Message Stream Encryption for the metadata connections. */
  encryption?: EncryptionMode;
  /** How peers are dialled (default TCP). */
  dial?: Dial;
}

/** How the magnet phase ended: the torrent, or why there is none. */
export interface MagnetOutput {
  meta?: Metainfo;
  error?: string;
}

/** What the magnet phase tells the supervisor, for a person watching. */
export type MagnetReport =
  | { type: "magnet.metadata"; status: string }
  | { type: "magnet.tracker"; status: string };

interface MagnetContext {
  input: MagnetInput;
  /** When a peer with the metadata was last connected (or the phase started). */
  lastPeerAt: number;
  /** Peers connected for the metadata that have it. */
  metadataPeers: number;
  ticks: number;
  lastTrackerError?: string;
  meta?: Metainfo;
  error?: string;
}

type MagnetEvent =
  | TrackerEvent
  | MetadataEvent
  | { type: "tick" }
  /** From the supervisor: the address book has new peers (the DHT found them). */
  | { type: "peers.found" };

/** Parses fetched metadata (already checked against the infohash) into a torrent. */
export const parseMetadataJob = fromPromise<
  Metainfo,
  { info: Uint8Array; trackers: string[][]; webSeeds?: string[] }
>(({ input }) => parseMetainfo(torrentFromMetadata(input.info, input.trackers, input.webSeeds)));

/** The magnet phase: finds peers, fetches the metadata from them, and outputs the torrent. */
export const magnetMachine = setup({
  types: {
    context: {} as MagnetContext,
    input: {} as MagnetInput,
    events: {} as MagnetEvent,
    output: {} as MagnetOutput,
  },
  actors: { metadata: metadataFetcher, tracker: trackerActor, parseMetadata: parseMetadataJob, ticker },
  actions: {
    /** Hands every address we know that is not banned to the metadata fetcher. */
    offerPeers: sendTo("metadata", ({ context }) => ({
      type: "peers" as const,
      peers: context.input.book.addresses(),
    })),
    learnTrackerPeers: ({ context, event }) =>
      context.input.book.add((event as Extract<TrackerEvent, { type: "tracker.peers" }>).peers, "tracker"),
    learnPexPeers: ({ context, event }) =>
      context.input.book.add((event as Extract<MetadataEvent, { type: "metadata.peers" }>).peers, "pex"),
    reportTracker: sendParent(({ event }) =>
      ({
        type: "magnet.tracker",
        status: trackerStatus(event as TrackerEvent),
      }) satisfies MagnetReport
    ),
    reportProgress: enqueueActions(({ event, enqueue }) => {
      const e = event as Extract<MetadataEvent, { type: "metadata.progress" }>;
      enqueue.assign({
        metadataPeers: e.withMetadata,
        lastPeerAt: ({ context }) => e.withMetadata > 0 ? Date.now() : context.lastPeerAt,
      });
      enqueue.sendParent(
        {
          type: "magnet.metadata",
          status: `${e.connected} peers, ${e.withMetadata} with metadata, ${e.received}/${e.pieces} pieces`,
        } satisfies MagnetReport,
      );
    }),
    /** Once a second: offer peers again now and then, ask trackers for more while nobody has the metadata. */
    onTick: enqueueActions(({ context, enqueue }) => {
      enqueue.assign({ ticks: context.ticks + 1 });
      if (context.ticks % 5 === 0) {
        enqueue.sendTo("metadata", { type: "peers", peers: context.input.book.addresses() });
      }
      // No peer with the metadata yet: ask the trackers again (no sooner than their min interval).
      if (!context.metadataPeers) enqueue.sendTo("tracker", { type: "tracker.announce" });
    }),
  },
  guards: {
    noPeersTooLong: ({ context }) =>
      Date.now() - context.lastPeerAt > (context.input.noPeersTimeoutMs ?? 120_000),
  },
}).createMachine({
  id: "magnet",
  context: ({ input }) => ({ input, lastPeerAt: Date.now(), metadataPeers: 0, ticks: 0 }),
  output: ({ context }) => ({ meta: context.meta, error: context.error }),
  initial: "fetching",
  states: {
    fetching: {
      invoke: [
        {
          id: "metadata",
          src: "metadata",
          input: ({ context }) => ({
            infoHash: context.input.magnet.infoHash,
            peerId: context.input.peerId,
            listenPort: context.input.listening ? context.input.port : undefined,
            peers: context.input.book.addresses(),
            encryption: context.input.encryption,
            dial: context.input.dial,
          }),
        },
        {
          id: "tracker",
          src: "tracker",
          input: ({ context }) => ({
            trackers: context.input.magnet.trackers,
            setup: context.input.trackers,
            subject: {
              infoHash: context.input.magnet.infoHash,
              peerId: context.input.peerId,
              port: context.input.port,
            },
          }),
        },
        { src: "ticker" },
      ],
      on: {
        "tracker.peers": { actions: ["learnTrackerPeers", "reportTracker", "offerPeers"] },
        "tracker.warning": { actions: "reportTracker" },
        "tracker.error": {
          actions: [assign({ lastTrackerError: ({ event }) => event.message }), "reportTracker"],
        },
        "metadata.peers": { actions: ["learnPexPeers", "offerPeers"] },
        "peers.found": { actions: "offerPeers" },
        "metadata.progress": { actions: "reportProgress" },
        "metadata.done": "parsing",
        "tick": [
          {
            guard: "noPeersTooLong",
            target: "failed",
            actions: assign({
              error: ({ context }) => {
                const timeout = context.input.noPeersTimeoutMs ?? 120_000;
                const why = context.lastTrackerError
                  ? ` (last tracker error: ${context.lastTrackerError})`
                  : "";
                return `no peer sent the metadata in ${Math.round(timeout / 1000)} s${why}`;
              },
            }),
          },
          { actions: "onTick" },
        ],
      },
    },
    parsing: {
      invoke: {
        src: "parseMetadata",
        input: ({ context, event }) => ({
          info: (event as Extract<MetadataEvent, { type: "metadata.done" }>).info,
          trackers: context.input.magnet.trackers,
          webSeeds: context.input.magnet.webSeeds,
        }),
        onDone: { target: "done", actions: assign({ meta: ({ event }) => event.output }) },
        onError: {
          target: "failed",
          actions: assign({
            error: ({ event }) =>
              `the metadata peers sent is not a valid torrent: ${(event.error as Error).message}`,
          }),
        },
      },
    },
    done: { type: "final" },
    failed: { type: "final" },
  },
});
