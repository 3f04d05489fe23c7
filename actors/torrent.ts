/**
 * The supervisor: one torrent's lifecycle, listening → [metadata →] checking → active.{downloading → completing
 * → seeding} → stopping → done, stopped or failed (`docs/machines/torrent.svg`). A download that completes
 * without seeding goes from `active.downloading` to `leaving` (flush, tell the trackers) and `done`: leaving
 * `active` stops the swarm and every peer together. In `metadata` it invokes the
 * magnet phase (`magnet.ts`), whose output is the torrent; in `active` the coordinator (the pieces) and the swarm
 * (`swarm.ts`: the peers, the tracker, the choker), passing the coordinator's strikes and completion to the swarm.
 * Once it listens it starts the DHT node (`dht.ts`) unless the torrent is private, and feeds what it finds to the
 * address book.
 *
 * @module
 */

import { assign, enqueueActions, sendTo, setup } from "xstate";
import { coordinatorMachine, coordinatorStats, type Stats } from "./coordinator.ts";
import { closeSockets, type TorrentSockets } from "./acceptor.ts";
import { dhtMachine } from "./dht.ts";
import { magnetMachine } from "./magnet.ts";
import { swarmMachine } from "./swarm.ts";
import { ticker } from "./ticker.ts";
import { dhtInput, dhtLookup, learnDhtPeers, reannounceMs } from "./torrent_dht.ts";
import {
  coordinatorInput,
  finishInput,
  finishJob,
  initialContext,
  listening,
  listenJob,
  magnetInput,
  openJob,
  pieceWriters,
  seedLimitReached,
  statusWith,
  swarmInput,
  type TorrentContext as Context,
  type TorrentEvent as Event,
  type TorrentInput,
  usesDht,
} from "./torrent_context.ts";

const message = (e: unknown) => (e as Error).message;

/**
 * `completed` is announced by the session that completed the download (it received bytes), not by a rerun over
 * complete data.
 */
const completedEvent = (context: Context): "completed"[] =>
  (context.stats?.receivedBytes ?? 0) > 0 ? ["completed"] : [];

/** Where `stopping` ends, whether the last flush and announces worked or not. */
const LEAVE = [
  { guard: "failed", target: "failed" },
  { guard: "complete", target: "done" },
  { target: "stopped" },
] as const;

/**
 * The supervisor of one torrent: [metadata →] checking → active.{downloading → completing → seeding} → done, or
 * active.downloading → leaving → done without seeding.
 */
export const torrentMachine = setup({
  types: {
    context: {} as Context,
    input: {} as TorrentInput,
    events: {} as Event,
    output: {} as { ok: boolean; error?: string; stats?: Stats },
  },
  actors: {
    listen: listenJob,
    magnet: magnetMachine,
    open: openJob,
    coordinator: coordinatorMachine,
    swarm: swarmMachine,
    finish: finishJob,
    ticker,
    dht: dhtMachine,
  },
  actions: {
    /** Keeps the listening socket and the port we got, and starts the address book with the peers we were given. */
    keepListener: assign(({ context, event }) =>
      listening(context, (event as unknown as { output: TorrentSockets }).output)
    ),
    setStatus: assign({ status: ({ context, event }) => statusWith(context, event) }),
    /** The coordinator's counters, read from its snapshot while it lives: the one place the supervisor reads it. */
    captureStats: assign({
      stats: ({ context, self }) =>
        coordinatorStats(self.getSnapshot().children.coordinator) ?? context.stats,
    }),
    closeListener: ({ context }) => closeSockets(context),
    closeStorage: ({ context }) => context.storage?.close(),
    flushFailed: assign({
      error: ({ event }) => `cannot flush the output: ${message((event as { error: unknown }).error)}`,
    }),
    /** The DHT node starts once we listen (on the listener's port number), never for a private torrent. */
    startDht: enqueueActions(({ context, enqueue }) => {
      if (usesDht(context)) enqueue.spawnChild("dht", { id: "dht", input: dhtInput(context) });
    }),
    /** Looks the torrent up in the DHT and announces our port; again every 15 minutes (5 s while a magnet link waits). */
    lookupDht: enqueueActions(({ context, enqueue }) => {
      enqueue.sendTo("dht", dhtLookup(context));
      enqueue.cancel("reannounce");
      enqueue.raise({ type: "dht.reannounce" }, { id: "reannounce", delay: reannounceMs(context) });
    }),
    learnDhtPeers: ({ context, event }) => learnDhtPeers(context, event),
    /** A magnet link's metadata said private (BEP 27): no more DHT. */
    stopDhtIfPrivate: enqueueActions(({ context, enqueue }) =>
      context.meta?.private && enqueue.stopChild("dht")
    ),
    tellMagnet: sendTo("magnet", { type: "peers.found" }),
    tellSwarm: sendTo("swarm", { type: "peers.found" }),
    /** Passes the coordinator's strike on to the swarm, which bans the peer at the last one. */
    forwardStrike: sendTo("swarm", ({ event }) => event),
    tellSwarmComplete: sendTo("swarm", { type: "swarm.complete" }),
  },
  guards: {
    hasMeta: ({ context }) => context.meta !== undefined,
    complete: ({ context }) => context.complete,
    /** Complete, and asked to seed on (`--seed…`, or the `seed` command). */
    completeToSeed: ({ context }) =>
      context.complete && (context.input.seed !== undefined || context.input.seedOnly === true),
    failed: ({ context }) => context.error !== undefined,
    /** `--seed-ratio` or `--seed-time` reached. */
    seedLimitReached: ({ context }) => seedLimitReached(context),
  },
}).createMachine({
  id: "torrent",
  context: ({ input }) => initialContext(input),
  output: ({ context }) => ({ ok: context.error === undefined, error: context.error, stats: context.stats }),
  on: {
    "dht.ready": { actions: "lookupDht" },
    "dht.reannounce": { actions: "lookupDht" },
    "dht.peers": { actions: "learnDhtPeers" },
    "peer.dht-node": { actions: sendTo("dht", ({ event }) => ({ ...event, type: "dht.node" as const })) },
  },
  initial: "listening",
  states: {
    listening: {
      // Listen first, so the port announced from the start (a magnet link's trackers too) is the one we keep.
      invoke: {
        src: "listen",
        input: ({ context }) => context.input,
        onDone: [
          { guard: "hasMeta", target: "checking", actions: ["keepListener", "startDht"] },
          { target: "metadata", actions: ["keepListener", "startDht"] },
        ],
        onError: {
          target: "failed",
          actions: assign({ error: ({ event }) => `cannot listen: ${message(event.error)}` }),
        },
      },
    },
    metadata: {
      invoke: {
        id: "magnet",
        src: "magnet",
        input: ({ context }) => magnetInput(context),
        onDone: [
          {
            guard: ({ event }) => event.output.meta !== undefined,
            target: "checking",
            actions: [assign({ meta: ({ event }) => event.output.meta }), "stopDhtIfPrivate"],
          },
          { target: "stopping", actions: assign({ error: ({ event }) => event.output.error }) },
        ],
      },
      on: {
        "stop": "stopping",
        "magnet.metadata": { actions: "setStatus" },
        "dht.peers": { actions: ["learnDhtPeers", "tellMagnet"] },
        "magnet.tracker": { actions: "setStatus" },
      },
    },
    checking: {
      on: { stop: "stopping" },
      invoke: {
        src: "open",
        input: ({ context }) => ({ input: context.input, meta: context.meta! }),
        onDone: {
          target: "active",
          actions: assign(({ context, event }) => ({
            ...event.output,
            writers: pieceWriters(context.input, context.meta!, event.output.storage),
          })),
        },
        onError: { target: "failed", actions: assign({ error: ({ event }) => message(event.error) }) },
      },
    },
    active: {
      exit: "captureStats",
      invoke: [
        {
          id: "coordinator",
          systemId: "coordinator",
          src: "coordinator",
          input: ({ context }) => coordinatorInput(context),
          // The coordinator ends only on a disk error; completion is an event and it lives on for the peers.
          onDone: { target: "failed", actions: assign(({ event }) => event.output) },
        },
        {
          id: "swarm",
          src: "swarm",
          input: ({ context }) => swarmInput(context),
        },
      ],
      on: {
        "stop": "stopping",
        "peer.strike": { actions: "forwardStrike" },
        "swarm.tracker": { actions: "setStatus" },
        "dht.peers": { actions: ["learnDhtPeers", "tellSwarm"] },
        "swarm.no-peers": { target: "stopping", actions: assign({ error: ({ event }) => event.error }) },
      },
      initial: "downloading",
      states: {
        downloading: {
          // Complete and not seeding: leaving `active` stops the swarm, and every peer with it, at once.
          always: [
            { guard: "completeToSeed", target: "completing" },
            { guard: "complete", target: "#torrent.leaving" },
          ],
          on: {
            "coordinator.complete": {
              actions: ["captureStats", assign({ complete: true }), "tellSwarmComplete"],
            },
          },
        },
        completing: {
          invoke: {
            src: "finish",
            input: ({ context }) => finishInput(context, completedEvent(context)),
            onDone: "seeding",
            onError: { target: "#torrent.failed", actions: "flushFailed" },
          },
        },
        seeding: {
          entry: assign({ seedingSince: () => Date.now() }),
          invoke: { src: "ticker" },
          on: { tick: { guard: "seedLimitReached", target: "#torrent.stopping" } },
        },
      },
    },
    leaving: {
      // The output flushed, then trackers told `completed` and `stopped` (so they stop listing us as a seeder).
      invoke: {
        src: "finish",
        input: ({ context }) => finishInput(context, [...completedEvent(context), "stopped"]),
        onDone: "done",
        onError: { target: "failed", actions: "flushFailed" },
      },
    },
    stopping: {
      invoke: {
        src: "finish",
        // Only trackers that heard `started` are told (none, when we stop before the first announce).
        input: ({ context }) => finishInput(context, ["stopped"]),
        onDone: LEAVE,
        onError: LEAVE,
      },
    },
    done: { type: "final", entry: "closeListener" },
    stopped: { type: "final", entry: "closeListener" },
    failed: { type: "final", entry: ["closeListener", "closeStorage"] },
  },
});
