/**
 * The coordinator actor: owns which pieces are missing, in flight and verified. Peers tell it what they have and
 * when they can download; it hands them pieces, takes pieces back when a peer is choked or gone, sends every whole
 * piece to its verifier (SHA-1, then the disk; a large piece that went to disk as it arrived brings its SHA-1)
 * and strikes the peer whose piece failed the hash. It revokes a piece's write grant (`PieceWriters`) before it
 * takes any copy of the piece or takes the piece back, so no peer writes where another copy landed.
 *
 * Its bookkeeping (a PiecePicker and a peer table) is mutable and lives in context by reference: it changes only
 * inside this machine's actions, once per piece or lifecycle event, never per block.
 *
 * @module
 */

import { type ActorRefFrom, type AnyActorRef, enqueueActions, sendParent, setup } from "xstate";
import { Bitfield } from "../src/common/bitfield.ts";
import { type Metainfo, pieceSize } from "../src/metainfo/metainfo.ts";
import { LocalPieces } from "../src/pieces/local_pieces.ts";
import { PiecePicker, PieceState } from "../src/pieces/piece_picker.ts";
import { poolFor } from "../src/pieces/buffer_pool.ts";
import type { Storage } from "../src/storage/storage.ts";
import type { PieceWriters } from "../src/pieces/piece_writers.ts";
import { verifier, type VerifierEvent } from "./verifier.ts";
import { MAX_DEPTH, piecesFor, START_DEPTH, type WholePiece } from "../src/peer/download.ts";

/** What a peer actor tells the coordinator. */
export type PeerReport =
  | { type: "peer.hello"; key: string; ref: AnyActorRef }
  | { type: "peer.bitfield"; key: string; bitfield: Bitfield }
  | { type: "peer.have"; key: string; index: number }
  | { type: "peer.ready"; key: string }
  | { type: "peer.choked"; key: string }
  /** Whole pieces, and how many pieces the peer wants to hold from now on (its pipeline's need). */
  | { type: "peer.pieces"; key: string; pieces: WholePiece[]; want: number }
  | { type: "peer.gone"; key: string };

/** What the coordinator tells a peer actor. */
export type CoordinatorOrder =
  | { type: "interest"; value: boolean }
  | { type: "assign"; indices: number[] }
  | { type: "cancel"; index: number };

/** Counters a progress display reads from the coordinator's snapshot. */
export interface Stats {
  /** Bytes in pieces verified on disk. */
  verifiedBytes: number;
  /** Pieces verified on disk. */
  verifiedPieces: number;
  /** Payload bytes of whole pieces received from peers. */
  receivedBytes: number;
  /** Pieces that failed their hash check. */
  hashFailures: number;
}

interface PeerEntry {
  ref: AnyActorRef;
  bitfield?: Bitfield;
  ready: boolean;
  interested: boolean;
  assigned: Set<number>;
  /** Pieces to keep assigned: what its pipeline needs, as its link last said (at most `piecesPerPeer`). */
  want: number;
}

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
  meta: Metainfo;
  storage: Storage;
  writers?: PieceWriters;
  ours: LocalPieces;
  picker: PiecePicker;
  peers: Map<string, PeerEntry>;
  piecesPerPeer: number;
  budgetBytes: number;
  inFlightBytes: number;
  /** Bytes of pieces received and being hashed or written: part of the budget until they are done. */
  verifyingBytes: number;
  stats: Stats;
  error?: string;
}

type Send = (to: AnyActorRef, event: CoordinatorOrder) => void;

/** Hands `key` as many pieces as its slots and the memory budget allow. */
function fill(ctx: Context, key: string, send: Send): void {
  const p = ctx.peers.get(key);
  if (!p || !p.ready || !p.bitfield) return;
  const indices: number[] = [];
  const want = Math.min(p.want, ctx.piecesPerPeer);
  while (p.assigned.size < want && ctx.inFlightBytes + ctx.verifyingBytes < ctx.budgetBytes) {
    let i = ctx.picker.pick(p.bitfield, key);
    if (i < 0 && p.assigned.size === 0 && ctx.picker.inEndgame) i = ctx.picker.pickEndgame(p.bitfield, key);
    if (i < 0) break;
    p.assigned.add(i);
    const size = pieceSize(ctx.meta, i);
    ctx.writers?.grant(i, key, size);
    ctx.inFlightBytes += size;
    indices.push(i);
  }
  if (indices.length > 0) send(p.ref, { type: "assign", indices });
}

function fillAll(ctx: Context, send: Send): void {
  for (const key of ctx.peers.keys()) fill(ctx, key, send);
}

/** Takes back every piece `key` holds. */
function releaseAll(ctx: Context, key: string): void {
  const p = ctx.peers.get(key);
  if (!p) return;
  for (const i of p.assigned) {
    ctx.writers?.revoke(i, key);
    ctx.picker.release(i, key);
    ctx.inFlightBytes -= pieceSize(ctx.meta, i);
  }
  p.assigned.clear();
}

function updateInterest(ctx: Context, key: string, send: Send, wanted?: boolean): void {
  const p = ctx.peers.get(key);
  if (!p?.bitfield) return;
  const value = wanted ?? ctx.picker.wants(p.bitfield);
  if (value !== p.interested) {
    p.interested = value;
    send(p.ref, { type: "interest", value });
  }
}

/** The coordinator: owns the pieces, hands them to peers, takes them back and strikes peers whose pieces fail. */
export const coordinatorMachine = setup({
  types: {
    context: {} as Context,
    input: {} as CoordinatorInput,
    events: {} as PeerReport | VerifierEvent,
    output: {} as { error?: string; stats: Stats },
  },
  actors: { verifier },
  actions: {
    register: ({ context, event }) => {
      if (event.type !== "peer.hello") return;
      context.peers.set(event.key, {
        ref: event.ref,
        ready: false,
        interested: false,
        assigned: new Set(),
        want: piecesFor(START_DEPTH, context.meta.pieceLength),
      });
    },
  },
  guards: {
    complete: ({ context }) => context.picker.complete,
  },
}).createMachine({
  id: "coordinator",
  context: ({ input }) => {
    const ours = input.ours ?? new LocalPieces(input.meta.pieceCount);
    const picker = new PiecePicker(input.meta.pieceCount, ours.have);
    let verifiedBytes = 0;
    for (let i = 0; i < input.meta.pieceCount; i++) {
      if (picker.state[i] === PieceState.Verified) verifiedBytes += pieceSize(input.meta, i);
    }
    return {
      meta: input.meta,
      storage: input.storage,
      writers: input.writers,
      ours,
      picker,
      peers: new Map(),
      // At most enough for the deepest pipeline; a peer asks for what its link needs.
      piecesPerPeer: input.piecesPerPeer ?? Math.max(2, piecesFor(MAX_DEPTH, input.meta.pieceLength)),
      budgetBytes: input.budgetBytes ?? Math.max(16 * 1024 * 1024, 4 * input.meta.pieceLength),
      inFlightBytes: 0,
      verifyingBytes: 0,
      stats: { verifiedBytes, verifiedPieces: picker.verifiedCount, receivedBytes: 0, hashFailures: 0 },
    };
  },
  output: ({ context }) => ({ error: context.error, stats: context.stats }),
  initial: "downloading",
  states: {
    downloading: {
      always: { guard: "complete", target: "complete" },
      invoke: {
        id: "verifier",
        src: "verifier",
        input: ({ context }) => ({ meta: context.meta, storage: context.storage, writers: context.writers }),
      },
      on: {
        "peer.hello": { actions: "register" },
        "peer.bitfield": {
          actions: enqueueActions(({ context, event, enqueue }) => {
            const p = context.peers.get(event.key);
            if (!p || p.bitfield) return;
            p.bitfield = event.bitfield;
            context.picker.addPeer(event.bitfield); // its later haves are counted one by one
            const send: Send = (to, e) => enqueue.sendTo(to, e);
            updateInterest(context, event.key, send);
            fill(context, event.key, send);
          }),
        },
        "peer.have": {
          actions: enqueueActions(({ context, event, enqueue }) => {
            const p = context.peers.get(event.key);
            if (!p?.bitfield) return;
            context.picker.peerHas(event.index);
            const send: Send = (to, e) => enqueue.sendTo(to, e);
            if (context.picker.state[event.index] === PieceState.Missing) {
              updateInterest(context, event.key, send, true);
            }
            fill(context, event.key, send);
          }),
        },
        "peer.ready": {
          actions: enqueueActions(({ context, event, enqueue }) => {
            const p = context.peers.get(event.key);
            if (!p) return;
            p.ready = true;
            fill(context, event.key, (to, e) => enqueue.sendTo(to, e));
          }),
        },
        "peer.choked": {
          actions: enqueueActions(({ context, event, enqueue }) => {
            const p = context.peers.get(event.key);
            if (!p) return;
            p.ready = false;
            releaseAll(context, event.key);
            fillAll(context, (to, e) => enqueue.sendTo(to, e));
          }),
        },
        "peer.gone": {
          actions: enqueueActions(({ context, event, enqueue }) => {
            releaseAll(context, event.key);
            const bitfield = context.peers.get(event.key)?.bitfield;
            if (bitfield) context.picker.removePeer(bitfield); // the bits it had, haves included
            context.peers.delete(event.key);
            fillAll(context, (to, e) => enqueue.sendTo(to, e));
          }),
        },
        "peer.pieces": {
          actions: enqueueActions(({ context, event, enqueue }) => {
            const { key, pieces } = event;
            const p = context.peers.get(key);
            if (p) p.want = event.want;
            const send: Send = (to, e) => enqueue.sendTo(to, e);
            const wanted: WholePiece[] = [];
            const touched = new Set<string>();
            for (const piece of pieces) {
              const { index } = piece;
              const size = pieceSize(context.meta, index);
              if (p?.assigned.delete(index)) context.inFlightBytes -= size;
              // A streamed copy vouches for the disk only while its sender still holds the grant: once the piece
              // was taken back from it, another peer may have written there since.
              if ("digest" in piece && context.writers?.owner(index) !== key) continue;
              // Whichever copy this is, nobody writes this piece any more (a streamed one is all written).
              context.writers?.revoke(index);
              const others = context.picker.received(index, key);
              if (!others) {
                // A copy nobody needs any more.
                if ("data" in piece) poolFor(context.meta.pieceLength).give(piece.data);
                continue;
              }
              context.stats.receivedBytes += size;
              for (const other of others) {
                const o = context.peers.get(other);
                if (o?.assigned.delete(index)) {
                  context.inFlightBytes -= size;
                  send(o.ref, { type: "cancel", index });
                }
                touched.add(other);
              }
              context.verifyingBytes += size;
              wanted.push(piece);
            }
            if (wanted.length > 0) enqueue.sendTo("verifier", { type: "verify", key, pieces: wanted });
            fill(context, key, send);
            for (const other of touched) fill(context, other, send);
          }),
        },
        "pieces.verified": {
          actions: enqueueActions(({ context, event, enqueue }) => {
            const wasFull = context.inFlightBytes + context.verifyingBytes >= context.budgetBytes;
            for (const index of event.indices) {
              const size = pieceSize(context.meta, index);
              context.verifyingBytes -= size;
              context.picker.verified(index);
              context.ours.add(index);
              context.stats.verifiedBytes += size;
            }
            context.stats.verifiedPieces = context.picker.verifiedCount;
            // The budget held pieces back: now there is room for more.
            if (wasFull) fillAll(context, (to, e) => enqueue.sendTo(to, e));
          }),
        },
        "piece.corrupt": {
          actions: [
            enqueueActions(({ context, event, enqueue }) => {
              context.verifyingBytes -= pieceSize(context.meta, event.index);
              context.picker.failed(event.index, event.key);
              context.stats.hashFailures++;
              fillAll(context, (to, e) => enqueue.sendTo(to, e));
            }),
            sendParent(({ event }) => ({ type: "peer.strike", key: event.key, index: event.index })),
          ],
        },
        "storage.failed": {
          target: "failed",
          actions: ({ context, event }) => {
            context.error = event.message;
          },
        },
      },
    },
    complete: {
      // Not final: peers outlive the download when we seed, and still report to the coordinator.
      entry: [
        sendParent({ type: "coordinator.complete" }),
        enqueueActions(({ context, enqueue }) => {
          for (const p of context.peers.values()) {
            if (p.interested) enqueue.sendTo(p.ref, { type: "interest", value: false });
            p.interested = false;
          }
        }),
      ],
      on: {
        "peer.hello": { actions: "register" },
        "peer.gone": { actions: ({ context, event }) => context.peers.delete(event.key) },
      },
    },
    failed: { type: "final" },
  },
});

export type CoordinatorRef = ActorRefFrom<typeof coordinatorMachine>;

/** The pieces a coordinator actor has verified, read from its snapshot; undefined when there is no such actor. */
export function coordinatorHave(ref: AnyActorRef | undefined): Bitfield | undefined {
  const picker = (ref?.getSnapshot()?.context as { picker?: PiecePicker } | undefined)?.picker;
  if (!picker) return undefined;
  const have = new Bitfield(picker.pieceCount);
  picker.state.forEach((s, i) => s === PieceState.Verified && have.set(i));
  return have;
}

/** The coordinator's piece map (see `PiecePicker.map`), read from its snapshot. */
export function coordinatorPieceMap(ref: AnyActorRef | undefined): string | undefined {
  return (ref?.getSnapshot()?.context as { picker?: PiecePicker } | undefined)?.picker?.map();
}

/** The counters of a coordinator actor, read from its snapshot; undefined when there is no such actor. */
export function coordinatorStats(ref: AnyActorRef | undefined): Stats | undefined {
  return (ref?.getSnapshot()?.context as { stats?: Stats } | undefined)?.stats;
}
