/**
 * The supervisor: one torrent's lifecycle.
 *
 *   listening → metadata ─┐                              (magnet links only)
 *       └─────→ checking ←┘
 *   checking → active.downloading → active.completing → active.seeding ─→ done
 *       │                                    └─────────────────────────→ done   (not seeding)
 *       │            └───────── stop ──────────→ stopping → stopped (or done, when complete)
 *       └────────────┴──────────────────────────→ failed   (disk error, no peers in time)
 *
 * In `metadata` it invokes the magnet phase (`magnet.ts`), whose output is the torrent. In `active` it invokes the
 * coordinator (the pieces) and the swarm (`swarm.ts`: the peers, the tracker, the choker), passes the
 * coordinator's strikes and completion to the swarm, and ends the download when the swarm finds no peer in time.
 *
 * @module
 */

import { assign, sendTo, setup } from "xstate";
import { coordinatorMachine, coordinatorStats, type Stats } from "./coordinator.ts";
import { magnetMachine } from "./magnet.ts";
import { swarmMachine } from "./swarm.ts";
import { ticker } from "./ticker.ts";
import {
  finishInput,
  finishJob,
  initialContext,
  listening,
  listenJob,
  magnetInput,
  openJob,
  pieceWriters,
  seedLimitReached,
  swarmInput,
  type TorrentContext as Context,
  type TorrentEvent as Event,
  type TorrentInput,
} from "./torrent_context.ts";

const message = (e: unknown) => (e as Error).message;

/** The supervisor of one torrent: [metadata →] checking → active.{downloading → completing → seeding} → done. */
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
  },
  actions: {
    /** Keeps the listening socket and the port we got, and starts the address book with the peers we were given. */
    keepListener: assign(({ context, event }) =>
      listening(context, (event as unknown as { output?: Deno.TcpListener }).output)
    ),
    setStatus: assign({
      status: ({ context, event }) => {
        const e = event as Extract<Event, { status: string }>;
        return e.type === "magnet.metadata"
          ? { ...context.status, metadata: e.status }
          : { ...context.status, tracker: e.status };
      },
    }),
    /** The coordinator's counters, read from its snapshot while it lives: the one place the supervisor reads it. */
    captureStats: assign({
      stats: ({ context, self }) =>
        coordinatorStats(self.getSnapshot().children.coordinator) ?? context.stats,
    }),
    closeListener: ({ context }) => {
      try {
        context.listener?.close();
      } catch { /* already closed */ }
    },
    closeStorage: ({ context }) => context.storage?.close(),
    /** Passes the coordinator's strike on to the swarm, which bans the peer at the last one. */
    forwardStrike: sendTo("swarm", ({ event }) => event),
    tellSwarmComplete: sendTo("swarm", { type: "swarm.complete" }),
  },
  guards: {
    hasMeta: ({ context }) => context.meta !== undefined,
    complete: ({ context }) => context.complete,
    seeding: ({ context }) => context.input.seed !== undefined || context.input.seedOnly === true,
    failed: ({ context }) => context.error !== undefined,
    /** `--seed-ratio` or `--seed-time` reached. */
    seedLimitReached: ({ context }) => seedLimitReached(context),
  },
}).createMachine({
  id: "torrent",
  context: ({ input }) => initialContext(input),
  output: ({ context }) => ({ ok: context.error === undefined, error: context.error, stats: context.stats }),
  initial: "listening",
  states: {
    listening: {
      // Listen first, so the port announced from the start (a magnet link's trackers too) is the one we keep.
      invoke: {
        src: "listen",
        input: ({ context }) => context.input,
        onDone: [
          { guard: "hasMeta", target: "checking", actions: "keepListener" },
          { target: "metadata", actions: "keepListener" },
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
            actions: assign({ meta: ({ event }) => event.output.meta }),
          },
          { target: "stopping", actions: assign({ error: ({ event }) => event.output.error }) },
        ],
      },
      on: {
        "stop": "stopping",
        "magnet.metadata": { actions: "setStatus" },
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
          actions: assign({
            storage: ({ event }) => event.output.storage,
            writers: ({ context, event }) => pieceWriters(context.input, context.meta!, event.output.storage),
            resume: ({ event }) => event.output.resume,
            ours: ({ event }) => event.output.ours,
          }),
        },
        onError: {
          target: "failed",
          actions: assign({ error: ({ event }) => message(event.error) }),
        },
      },
    },
    active: {
      exit: "captureStats",
      invoke: [
        {
          id: "coordinator",
          systemId: "coordinator",
          src: "coordinator",
          input: ({ context }) => ({
            meta: context.meta!,
            storage: context.storage!,
            writers: context.writers,
            ours: context.ours,
          }),
          onDone: {
            // The coordinator ends only on a disk error; completion is an event and it lives on for the peers.
            target: "failed",
            actions: assign({
              error: ({ event }) => event.output.error,
              stats: ({ event }) => event.output.stats,
            }),
          },
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
        "swarm.no-peers": { target: "stopping", actions: assign({ error: ({ event }) => event.error }) },
      },
      initial: "downloading",
      states: {
        downloading: {
          always: { guard: "complete", target: "completing" },
          on: {
            "coordinator.complete": {
              actions: ["captureStats", assign({ complete: true }), "tellSwarmComplete"],
            },
          },
        },
        completing: {
          invoke: {
            src: "finish",
            // `completed` is announced by the session that completed the download, not by a rerun over complete
            // data; a client that leaves now also says `stopped`, so trackers stop listing it as a seeder.
            input: ({ context }) =>
              finishInput(context, [
                ...((context.stats?.receivedBytes ?? 0) > 0 ? ["completed" as const] : []),
                ...(context.input.seed || context.input.seedOnly ? [] : ["stopped" as const]),
              ]),
            onDone: [{ guard: "seeding", target: "seeding" }, { target: "#torrent.done" }],
            onError: {
              target: "#torrent.failed",
              actions: assign({ error: ({ event }) => `cannot flush the output: ${message(event.error)}` }),
            },
          },
        },
        seeding: {
          entry: assign({ seedingSince: () => Date.now() }),
          invoke: { src: "ticker" },
          on: { tick: { guard: "seedLimitReached", target: "#torrent.stopping" } },
        },
      },
    },
    stopping: {
      invoke: {
        src: "finish",
        // Only trackers that heard `started` are told (none, when we stop before the first announce).
        input: ({ context }) => finishInput(context, ["stopped"]),
        onDone: [
          { guard: "failed", target: "failed" },
          { guard: "complete", target: "done" },
          { target: "stopped" },
        ],
        onError: [
          { guard: "failed", target: "failed" },
          { guard: "complete", target: "done" },
          { target: "stopped" },
        ],
      },
    },
    done: { type: "final", entry: "closeListener" },
    stopped: { type: "final", entry: "closeListener" },
    failed: { type: "final", entry: ["closeListener", "closeStorage"] },
  },
});
