/**
 * The coordinator actor: owns which pieces are missing, in flight and verified. Peers tell it what they have and
 * when they can download; it hands them pieces, takes pieces back when a peer is choked or gone, sends every whole
 * piece to its verifier (SHA-1, then the disk; a large piece that went to disk as it arrived brings its SHA-1)
 * and strikes the peer whose piece failed the hash.
 *
 * The decisions are the `Scheduler`'s (`src/pieces/scheduler.ts`): each event becomes one call whose orders this
 * machine delivers. The scheduler is the machine's one bookkeeping object: created with the context, changed only
 * through its methods, once per piece or lifecycle event, never per block.
 *
 * @module
 */

import { type AnyActorRef, assign, enqueueActions, sendParent, setup } from "xstate";
import type { Bitfield } from "../src/common/bitfield.ts";
import type { Metainfo } from "../src/metainfo/metainfo.ts";
import { LocalPieces } from "../src/pieces/local_pieces.ts";
import type { PieceWriters } from "../src/pieces/piece_writers.ts";
import { type Addressed, Scheduler, type Stats, type WholePiece } from "../src/pieces/scheduler.ts";
import type { Storage } from "../src/storage/storage.ts";
import { mostPiecesFor, piecesFor, START_DEPTH } from "../src/peer/pipeline.ts";
import { verifier, type VerifierEvent } from "./verifier.ts";

export type { PeerOrder as CoordinatorOrder, Stats } from "../src/pieces/scheduler.ts";

/** What a peer actor tells the coordinator. */
export type PeerReport =
  /** A peer is there; one that fetches `runs` of consecutive pieces (a web seed) gets them where it can. */
  | { type: "peer.hello"; key: string; ref: AnyActorRef; runs?: boolean }
  | { type: "peer.bitfield"; key: string; bitfield: Bitfield }
  | { type: "peer.haves"; key: string; indices: number[] }
  | { type: "peer.ready"; key: string }
  | { type: "peer.choked"; key: string }
  /** Whole pieces, and how many pieces the peer wants to hold from now on (its pipeline's need). */
  | { type: "peer.pieces"; key: string; pieces: WholePiece[]; want: number }
  | { type: "peer.gone"; key: string };

/** What the coordinator works with. */
export interface CoordinatorInput {
  meta: Metainfo;
  storage: Storage;
  /** What we have: the pieces verified on disk; the coordinator adds each piece it verifies. */
  ours?: LocalPieces;
  /** The most pieces kept in flight per peer (each peer holds what its pipeline needs, up to this). */
  piecesPerPeer?: number;
  /** Bytes of pieces in flight across all peers: bounds memory whatever the piece size. */
  budgetBytes?: number;
  /** The write grants of pieces that go to disk as they arrive, shared with the peers' links. */
  writers?: PieceWriters;
}

interface Context {
  input: CoordinatorInput;
  scheduler: Scheduler<AnyActorRef>;
  error?: string;
}

type Event = PeerReport | VerifierEvent;

/** The coordinator: owns the pieces, hands them to peers, takes them back and strikes peers whose pieces fail. */
export const coordinatorMachine = setup({
  types: {
    context: {} as Context,
    input: {} as CoordinatorInput,
    events: {} as Event,
    output: {} as { error?: string; stats: Stats },
  },
  actors: { verifier },
  actions: {
    /** Asks the scheduler about the event and delivers its orders to the peers (and whole pieces to the verifier). */
    schedule: enqueueActions(({ context: { scheduler }, event, enqueue }) => {
      const deliver = (orders: Addressed<AnyActorRef>[]) => {
        for (const { to, order } of orders) enqueue.sendTo(to, order);
      };
      switch (event.type) {
        case "peer.hello":
          return scheduler.hello(event.key, event.ref, event.runs);
        case "peer.bitfield":
          return deliver(scheduler.bitfield(event.key, event.bitfield));
        case "peer.haves":
          return deliver(scheduler.haves(event.key, event.indices));
        case "peer.ready":
          return deliver(scheduler.ready(event.key));
        case "peer.choked":
          return deliver(scheduler.choked(event.key));
        case "peer.gone":
          return deliver(scheduler.gone(event.key));
        case "peer.pieces": {
          const { verify, orders } = scheduler.pieces(event.key, event.pieces, event.want);
          if (verify.length > 0) {
            enqueue.sendTo("verifier", { type: "verify", key: event.key, pieces: verify });
          }
          return deliver(orders);
        }
        case "pieces.verified":
          return deliver(scheduler.verified(event.indices));
        case "piece.corrupt":
          return deliver(scheduler.corrupt(event.index, event.key));
      }
    }),
    /** Tells the supervisor which peer sent a piece that failed its hash. */
    strike: sendParent(({ event }) => {
      const { key, index } = event as Extract<Event, { type: "piece.corrupt" }>;
      return { type: "peer.strike", key, index };
    }),
    reportComplete: sendParent({ type: "coordinator.complete" }),
    dropInterest: enqueueActions(({ context, enqueue }) => {
      for (const { to, order } of context.scheduler.completed()) enqueue.sendTo(to, order);
    }),
  },
  guards: {
    complete: ({ context }) => context.scheduler.complete,
  },
}).createMachine({
  id: "coordinator",
  context: ({ input }) => ({
    input,
    scheduler: new Scheduler<AnyActorRef>({
      meta: input.meta,
      ours: input.ours ?? new LocalPieces(input.meta.pieceCount),
      writers: input.writers,
      // A peer asks for what its link needs, up to this.
      piecesPerPeer: input.piecesPerPeer ?? mostPiecesFor(input.meta.pieceLength),
      initialWant: piecesFor(START_DEPTH, input.meta.pieceLength),
      budgetBytes: input.budgetBytes ?? Math.max(16 * 1024 * 1024, 4 * input.meta.pieceLength),
    }),
  }),
  output: ({ context }) => ({ error: context.error, stats: context.scheduler.stats }),
  initial: "downloading",
  states: {
    downloading: {
      always: { guard: "complete", target: "complete" },
      invoke: {
        id: "verifier",
        src: "verifier",
        input: ({ context: { input } }) => ({
          meta: input.meta,
          storage: input.storage,
          writers: input.writers,
        }),
      },
      on: {
        "peer.hello": { actions: "schedule" },
        "peer.bitfield": { actions: "schedule" },
        "peer.haves": { actions: "schedule" },
        "peer.ready": { actions: "schedule" },
        "peer.choked": { actions: "schedule" },
        "peer.gone": { actions: "schedule" },
        "peer.pieces": { actions: "schedule" },
        "pieces.verified": { actions: "schedule" },
        "piece.corrupt": { actions: ["schedule", "strike"] },
        "storage.failed": { target: "failed", actions: assign({ error: ({ event }) => event.message }) },
      },
    },
    complete: {
      // Not final: peers outlive the download when we seed, and still report to the coordinator.
      entry: ["reportComplete", "dropInterest"],
      on: {
        "peer.hello": { actions: "schedule" },
        "peer.gone": { actions: "schedule" },
      },
    },
    failed: { type: "final" },
  },
});

/** The coordinator's piece map (see `PiecePicker.map`), read from its snapshot. */
export function coordinatorPieceMap(ref: AnyActorRef | undefined): string | undefined {
  return (ref?.getSnapshot()?.context as Context | undefined)?.scheduler?.picker.map();
}

/** The pieces each peer is fetching now, by key, read from a coordinator actor's snapshot. */
export function coordinatorAssignments(ref: AnyActorRef | undefined): Map<string, number[]> {
  return (ref?.getSnapshot()?.context as Context | undefined)?.scheduler?.assignments() ?? new Map();
}

/** The counters of a coordinator actor, read from its snapshot; undefined when there is no such actor. */
export function coordinatorStats(ref: AnyActorRef | undefined): Stats | undefined {
  return (ref?.getSnapshot()?.context as Context | undefined)?.scheduler?.stats;
}
