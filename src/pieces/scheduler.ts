/**
 * The coordinator's decisions as plain code: which peer holds which pieces, when a peer is interesting, which
 * copies go to the verifier, and what counts. Each method takes one thing that happened and returns the orders
 * for peers (and the pieces to verify); the coordinator machine only delivers them. Nothing here sends, hashes or
 * writes; it changes the `PiecePicker`, the write grants and what we have, which are bookkeeping too.
 *
 * @module
 */

import type { Bitfield } from "../common/bitfield.ts";
import { type Metainfo, pieceSize } from "../metainfo/metainfo.ts";
import { poolFor } from "../common/buffer_pool.ts";
import type { LocalPieces } from "./local_pieces.ts";
import { PiecePicker, PieceState } from "./piece_picker.ts";
import type { AssembledPiece, CheckedPiece, PieceWriters } from "./piece_writers.ts";

/** Default `endgameBytes`. */
const ENDGAME_BYTES = 4 * 1024 * 1024;

/**
 * A piece whose every block arrived: its bytes, not yet hashed; or, for a piece written to disk as it arrived
 * (see `PieceWriters`), the SHA-1 of the bytes written; or, for a small one its link checked at once
 * (`PieceWriters.settle`), whether it matched its hash (and was written).
 */
export type WholePiece = AssembledPiece | { index: number; digest: Uint8Array } | CheckedPiece;

/** What a peer is told to do. */
export type PeerOrder =
  | { type: "interest"; value: boolean }
  | { type: "assign"; indices: number[] }
  | { type: "cancel"; index: number };

/** An order addressed to a peer by its handle (the coordinator's: the peer actor). */
export interface Addressed<P> {
  to: P;
  order: PeerOrder;
}

/** Counters a progress display reads. */
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

/** How the scheduler is set up: the torrent, what we have, and its limits. */
export interface SchedulerOptions {
  meta: Metainfo;
  ours: LocalPieces;
  /** The write grants of pieces that go to disk as they arrive, shared with the peers' links. */
  writers?: PieceWriters;
  /** The most pieces one peer holds at once. */
  piecesPerPeer: number;
  /** Pieces a new peer holds until its link says what its pipeline needs. */
  initialWant: number;
  /**
   * Bytes of pieces in flight or being verified, across all peers, once more than two have unchoked us (twice that
   * while at most two have): bounds memory whatever the piece size.
   */
  budgetBytes: number;
  /**
   * Bytes of endgame duplicates in flight at once, at least one piece's (default 4 MiB): each is put together in
   * memory, and unbounded, 200 peers' endgame took 64 of them, 16 MiB at the very end of a download.
   */
  endgameBytes?: number;
  /** Random numbers for the picker's tie-breaks (tests pass a seeded one). */
  random?: () => number;
}

interface PeerEntry<P> {
  handle: P;
  bitfield?: Bitfield;
  /** It had every piece when its bitfield came: the picker counts it apart. */
  seed?: boolean;
  /** It unchoked us and can take requests. */
  ready: boolean;
  /** What we last told it about our interest. */
  interested: boolean;
  /** Pieces it holds (which ones, the picker's `holders` know). */
  assigned: number;
  /** Pieces to keep assigned: what its pipeline needs, as its link last said (at most `piecesPerPeer`). */
  want: number;
  /** It fetches runs of consecutive pieces (a web seed): the piece after its last comes first. */
  runs: boolean;
  /** The piece after the last one it was given. */
  next: number;
}

/** The pieces and the peers that hold them, for one torrent. */
export class Scheduler<P> {
  readonly picker: PiecePicker;
  readonly stats: Stats;
  readonly #o: SchedulerOptions;
  readonly #peers = new Map<string, PeerEntry<P>>();
  #inFlightBytes = 0;
  /** Bytes of pieces received and being hashed or written: part of the budget until they are done. */
  #verifyingBytes = 0;
  /** Peers that unchoked us and have not choked us or left since. */
  #ready = 0;
  /** The most endgame duplicates in flight at once (from `endgameBytes`). */
  readonly #endgameCopies: number;

  constructor(options: SchedulerOptions) {
    this.#o = options;
    const { meta } = options;
    this.#endgameCopies = Math.max(1, Math.floor((options.endgameBytes ?? ENDGAME_BYTES) / meta.pieceLength));
    this.picker = new PiecePicker(meta.pieceCount, options.ours.have, options.random);
    let verifiedBytes = 0;
    for (let i = 0; i < meta.pieceCount; i++) {
      if (this.picker.state[i] === PieceState.Verified) verifiedBytes += pieceSize(meta, i);
    }
    this.stats = {
      verifiedBytes,
      verifiedPieces: this.picker.verifiedCount,
      receivedBytes: 0,
      hashFailures: 0,
    };
  }

  /** Every piece is verified. */
  get complete(): boolean {
    return this.picker.complete;
  }

  /** The pieces each peer has been given and not yet delivered, by key (for a person watching). */
  assignments(): Map<string, number[]> {
    return this.picker.holders.all();
  }

  /** Bytes of pieces assigned to peers and not yet received. */
  get inFlightBytes(): number {
    return this.#inFlightBytes;
  }

  /**
   * A peer connected; `handle` is where its orders go. One that fetches `runs` (a web seed) is given consecutive
   * pieces where it can be.
   */
  hello(key: string, handle: P, runs = false): void {
    this.#peers.set(key, {
      handle,
      ready: false,
      interested: false,
      assigned: 0,
      want: this.#o.initialWant,
      runs,
      next: -1,
    });
  }

  /** The peer's first bitfield (a later one is ignored): interest, and pieces if it is ready. */
  bitfield(key: string, bitfield: Bitfield): Addressed<P>[] {
    const p = this.#peers.get(key);
    if (!p || p.bitfield) return [];
    p.bitfield = bitfield;
    p.seed = this.picker.addPeer(bitfield); // its later haves are counted one by one
    const out: Addressed<P>[] = [];
    this.#interest(p, this.picker.wants(bitfield), out);
    this.#fill(key, out);
    return out;
  }

  /** The peer has these pieces too (announced one by one since it was last heard of). */
  haves(key: string, indices: number[]): Addressed<P>[] {
    const p = this.#peers.get(key);
    if (!p?.bitfield) return [];
    let wanted = false;
    for (const index of indices) {
      this.picker.peerHas(index);
      wanted ||= this.picker.state[index] === PieceState.Missing;
    }
    const out: Addressed<P>[] = [];
    if (wanted) this.#interest(p, true, out);
    this.#fill(key, out);
    return out;
  }

  /** The peer unchoked us. */
  ready(key: string): Addressed<P>[] {
    const p = this.#peers.get(key);
    if (!p) return [];
    if (!p.ready) this.#ready++;
    p.ready = true;
    const out: Addressed<P>[] = [];
    this.#fill(key, out);
    return out;
  }

  /** The peer choked us: its pieces go back, to others. */
  choked(key: string): Addressed<P>[] {
    const p = this.#peers.get(key);
    if (!p) return [];
    if (p.ready) this.#ready--;
    p.ready = false;
    this.#releaseAll(p, key);
    return this.#fillAll();
  }

  /** The peer is gone: its pieces go back, and its bits leave the availability counts. */
  gone(key: string): Addressed<P>[] {
    const p = this.#peers.get(key);
    if (!p) return [];
    if (p.ready) this.#ready--;
    this.#releaseAll(p, key);
    if (p.bitfield) this.picker.removePeer(p.bitfield, p.seed); // the bits it had, haves included
    this.#peers.delete(key);
    return this.complete ? [] : this.#fillAll();
  }

  /**
   * Whole pieces from `key`, and how many it wants to hold now. Returns the copies to verify (the first of each
   * piece; others are cancelled at their holders) and the orders that follow.
   */
  pieces(key: string, pieces: WholePiece[], want: number): { verify: WholePiece[]; orders: Addressed<P>[] } {
    const { meta, writers } = this.#o;
    const p = this.#peers.get(key);
    if (p) p.want = want;
    const orders: Addressed<P>[] = [];
    const verify: WholePiece[] = [];
    const touched = new Set<string>();
    for (const piece of pieces) {
      const { index } = piece;
      const size = pieceSize(meta, index);
      const held = p !== undefined && this.picker.holders.has(index, key);
      if (held) {
        p.assigned--;
        this.#inFlightBytes -= size;
      }
      // A streamed copy vouches for the disk only while its sender still holds the grant: once the piece was
      // taken back from it, another peer may have written there since.
      if ("digest" in piece && writers?.owner(index) !== key) {
        if (held) this.picker.release(index, key);
        continue;
      }
      // Whichever copy this is, nobody writes this piece any more (a streamed one is all written).
      writers?.revoke(index);
      const others = this.picker.received(index, key);
      if (!others) {
        if ("data" in piece) poolFor(meta.pieceLength).give(piece.data); // a copy nobody needs any more
        continue;
      }
      this.stats.receivedBytes += size;
      for (const other of others) {
        const o = this.#peers.get(other);
        if (o) {
          o.assigned--;
          this.#inFlightBytes -= size;
          orders.push({ to: o.handle, order: { type: "cancel", index } });
        }
        touched.add(other);
      }
      this.#verifyingBytes += size;
      verify.push(piece);
    }
    this.#fill(key, orders);
    for (const other of touched) this.#fill(other, orders);
    return { verify, orders };
  }

  /** Pieces the verifier hashed and wrote: ours now. */
  verified(indices: number[]): Addressed<P>[] {
    const { meta, ours } = this.#o;
    const wasFull = this.#full();
    for (const index of indices) {
      const size = pieceSize(meta, index);
      this.#verifyingBytes -= size;
      this.picker.verified(index);
      ours.add(index);
      this.stats.verifiedBytes += size;
    }
    this.stats.verifiedPieces = this.picker.verifiedCount;
    // The budget held pieces back: now there is room for more.
    return wasFull ? this.#fillAll() : [];
  }

  /** A piece from `key` failed its hash: it is missing again. */
  corrupt(index: number, key: string): Addressed<P>[] {
    this.#verifyingBytes -= pieceSize(this.#o.meta, index);
    this.picker.failed(index, key);
    this.stats.hashFailures++;
    return this.#fillAll();
  }

  /** Every piece is verified: we are interested in nobody. */
  completed(): Addressed<P>[] {
    const out: Addressed<P>[] = [];
    for (const p of this.#peers.values()) this.#interest(p, false, out);
    return out;
  }

  /**
   * Twice `budgetBytes` while at most two peers have unchoked us: each sends its pieces one after another, filling
   * a buffer or two at a time, and two seeders 100 ms away need over 16 MiB assigned to keep their pipelines full.
   */
  #full(): boolean {
    const budget = this.#ready <= 2 ? 2 * this.#o.budgetBytes : this.#o.budgetBytes;
    return this.#inFlightBytes + this.#verifyingBytes >= budget;
  }

  #interest(p: PeerEntry<P>, value: boolean, out: Addressed<P>[]): void {
    if (value === p.interested) return;
    p.interested = value;
    out.push({ to: p.handle, order: { type: "interest", value } });
  }

  /** Hands `key` as many pieces as its wants, its slots and the memory budget allow. */
  #fill(key: string, out: Addressed<P>[]): void {
    const p = this.#peers.get(key);
    if (!p || !p.ready || !p.bitfield) return;
    const { meta, writers } = this.#o;
    const indices: number[] = [];
    const want = Math.min(p.want, this.#o.piecesPerPeer);
    while (p.assigned < want && !this.#full()) {
      let i = p.runs && p.next >= 0 ? this.picker.pickExactly(p.next, p.bitfield, key) : -1;
      if (i < 0) i = this.picker.pick(p.bitfield, key);
      if (i < 0 && p.assigned === 0 && this.picker.inEndgame) {
        i = this.picker.pickEndgame(p.bitfield, key, this.#endgameCopies);
      }
      if (i < 0) break;
      p.assigned++;
      p.next = i + 1;
      const size = pieceSize(meta, i);
      writers?.grant(i, key, size);
      this.#inFlightBytes += size;
      indices.push(i);
    }
    if (indices.length > 0) out.push({ to: p.handle, order: { type: "assign", indices } });
  }

  #fillAll(): Addressed<P>[] {
    const out: Addressed<P>[] = [];
    for (const key of this.#peers.keys()) this.#fill(key, out);
    return out;
  }

  /** Takes back every piece the peer holds. */
  #releaseAll(p: PeerEntry<P>, key: string): void {
    for (const i of this.picker.holders.piecesOf(key)) {
      this.#o.writers?.revoke(i, key);
      this.picker.release(i, key);
      this.#inFlightBytes -= pieceSize(this.#o.meta, i);
    }
    p.assigned = 0;
  }
}
