/**
 * Which pieces are missing, being downloaded (and by whom), being verified, or verified. Pure bookkeeping with no
 * I/O: the coordinator actor calls it. Pieces are handed out rarest first (fewest peers known to have them), so
 * the swarm's scarce pieces spread before they vanish. Among the rarest, the piece after the last one handed out
 * comes next, else one at random: runs of pieces in order, each run starting where chance puts it. Runs write
 * a file front to back, and a torrent of many small files whole, file after file, while it is open (at random, a
 * file's pieces came apart and it was opened again and again); random starts keep leechers on different pieces.
 * Once nothing unassigned is left, the endgame hands a piece already in flight to a second peer. Missing pieces
 * sit in buckets by availability, so a pick costs little whatever the number of pieces.
 *
 * @module
 */

import type { Bitfield } from "../common/bitfield.ts";
import { Holders, MAX_HOLDERS } from "./holders.ts";

/** The state of one piece. */
export const enum PieceState {
  Missing = 0,
  Active = 1,
  Verifying = 2,
  Verified = 3,
}

/** Piece bookkeeping for one torrent. */
export class PiecePicker {
  readonly state: Uint8Array;
  /** Peers downloading each active piece (one, or up to three in the endgame). */
  readonly holders: Holders;
  #cursor = 0;
  #verified = 0;
  /** The peer whose copy of a piece last failed the hash. */
  #failedBy = new Map<number, string>();
  /** How many connected peers have each piece, seeds left out (see `addPeer`). */
  readonly availability: Uint16Array;
  /** Peers that had every piece when they joined. */
  #seeds = 0;
  /** Missing pieces by availability, and each one's place in its bucket (-1: not missing). */
  #buckets: number[][] = [];
  #pos: Int32Array;
  #missing = 0;
  /** The piece after the last one handed out (-1 before the first): next in its run, if among the rarest a peer has. */
  #next = -1;

  /** One character per piece for a piece map: `.` missing, `r` requested, `h` hashing, `v` verified, `x` failed. */
  map(): string {
    let out = "";
    for (let i = 0; i < this.pieceCount; i++) {
      const s = this.state[i];
      out += s === PieceState.Verified
        ? "v"
        : s === PieceState.Verifying
        ? "h"
        : s === PieceState.Active
        ? "r"
        : this.#failedBy.has(i)
        ? "x"
        : ".";
    }
    return out;
  }

  constructor(readonly pieceCount: number, have?: Bitfield, readonly random: () => number = Math.random) {
    this.state = new Uint8Array(pieceCount);
    this.holders = new Holders(pieceCount);
    this.availability = new Uint16Array(pieceCount);
    this.#pos = new Int32Array(pieceCount).fill(-1);
    for (let i = 0; i < pieceCount; i++) {
      if (have?.has(i)) {
        this.state[i] = PieceState.Verified;
        this.#verified++;
      } else {
        this.#insert(i);
      }
    }
  }

  #insert(i: number): void {
    if (this.#pos[i] >= 0) return;
    const bucket = this.#buckets[this.availability[i]] ??= [];
    this.#pos[i] = bucket.length;
    bucket.push(i);
    this.#missing++;
  }

  #remove(i: number): void {
    const at = this.#pos[i];
    if (at < 0) return;
    const bucket = this.#buckets[this.availability[i]];
    const last = bucket.pop()!;
    if (last !== i) {
      bucket[at] = last;
      this.#pos[last] = at;
    }
    this.#pos[i] = -1;
    this.#missing--;
  }

  #bump(i: number, delta: number): void {
    const missing = this.#pos[i] >= 0;
    if (missing) this.#remove(i);
    this.availability[i] = Math.max(0, Math.min(65535, this.availability[i] + delta));
    if (missing) this.#insert(i);
  }

  /**
   * A peer's pieces join the counts (its bitfield, once). A seed (every piece) is counted apart, as libtorrent
   * does: it would raise every piece by one, which changes no order but moved every piece to another bucket, and
   * with 200 seeders joining made 10 MB of bucket arrays that outlived V8's young generation. Returns whether the
   * peer was counted as a seed: `removePeer` needs to know.
   */
  addPeer(peer: Bitfield): boolean {
    if (peer.complete) {
      this.#seeds++;
      return true;
    }
    for (let i = 0; i < this.pieceCount; i++) if (peer.has(i)) this.#bump(i, 1);
    return false;
  }

  /** Peers counted as seeds when they joined. */
  get seeds(): number {
    return this.#seeds;
  }

  /** A peer announced one more piece. */
  peerHas(index: number): void {
    this.#bump(index, 1);
  }

  /** A peer left: its pieces (as it last announced them) leave the counts, or it leaves the seeds. */
  removePeer(peer: Bitfield, seed = false): void {
    if (seed) {
      this.#seeds--;
      return;
    }
    for (let i = 0; i < this.pieceCount; i++) if (peer.has(i)) this.#bump(i, -1);
  }

  get verifiedCount(): number {
    return this.#verified;
  }

  get complete(): boolean {
    return this.#verified === this.pieceCount;
  }

  /** True when `peer` has a piece we still need. */
  wants(peer: Bitfield): boolean {
    for (let i = this.#cursor; i < this.pieceCount; i++) {
      if (this.state[i] !== PieceState.Verified && this.state[i] !== PieceState.Verifying && peer.has(i)) {
        return true;
      }
    }
    return false;
  }

  /**
   * Picks a missing piece `peer` has and marks it active for `key`; -1 when there is none. A piece that failed
   * its hash goes to another peer than the one that sent it, unless no other piece is left for this peer.
   */
  pick(peer: Bitfield, key: string): number {
    let fallback = -1;
    const next = this.#next;
    // Availability 0 comes first only in name: a piece nobody is known to have is skipped unless this peer has it
    // (its bitfield was not counted, as in tests of the picker alone).
    for (let rarity = 0; rarity < this.#buckets.length; rarity++) {
      const bucket = this.#buckets[rarity];
      const n = bucket?.length ?? 0;
      if (n === 0) continue;
      // The run goes on when its next piece is as rare as any this peer has (no rarer bucket held one for it).
      if (
        next >= 0 && next < this.pieceCount && this.#pos[next] >= 0 && this.availability[next] === rarity &&
        peer.has(next) &&
        this.#failedBy.get(next) !== key
      ) return this.#activate(next, key);
      const start = Math.floor(this.random() * n);
      for (let k = 0; k < n; k++) {
        const i = bucket[(start + k) % n];
        if (!peer.has(i)) continue;
        if (this.#failedBy.get(i) === key) {
          if (fallback < 0) fallback = i;
          continue;
        }
        return this.#activate(i, key);
      }
    }
    return fallback < 0 ? -1 : this.#activate(fallback, key);
  }

  /**
   * Picks piece `index` for `key` if it is missing, `peer` has it and `key` did not send a corrupt copy of it;
   * -1 otherwise. A web seed asks for the piece after its last, so its pieces come in runs one request can fetch.
   */
  pickExactly(index: number, peer: Bitfield, key: string): number {
    if (index >= this.pieceCount || this.#pos[index] < 0 || !peer.has(index)) return -1;
    return this.#failedBy.get(index) === key ? -1 : this.#activate(index, key);
  }

  #activate(i: number, key: string): number {
    this.#next = i + 1;
    this.#remove(i);
    this.state[i] = PieceState.Active;
    this.holders.add(i, key);
    return i;
  }

  /**
   * Endgame: an active piece `peer` has and does not already hold; -1 when there is none, or when `maxCopies`
   * duplicates are in flight already.
   */
  pickEndgame(peer: Bitfield, key: string, maxCopies = Infinity): number {
    if (this.holders.copies >= maxCopies) return -1;
    for (let i = this.#cursor; i < this.pieceCount; i++) {
      if (this.state[i] !== PieceState.Active || this.holders.count(i) === MAX_HOLDERS || !peer.has(i)) {
        continue;
      }
      if (this.holders.add(i, key)) return i;
    }
    return -1;
  }

  /** True when no piece is left to hand out without duplicating one in flight. */
  get inEndgame(): boolean {
    return this.#missing === 0;
  }

  /** `key` gives piece `index` back (choked, gone, stalled); it becomes missing when nobody else holds it. */
  release(index: number, key: string): void {
    if (!this.holders.remove(index, key) || this.holders.count(index) > 0) return;
    if (this.state[index] === PieceState.Active) {
      this.state[index] = PieceState.Missing;
      this.#insert(index);
    }
  }

  /**
   * Piece `index` arrived whole from `key`: it is now being verified. Returns the other peers that were fetching
   * it (to cancel), or null when the piece was not active (a late duplicate: drop the data).
   */
  received(index: number, key: string): readonly string[] | null {
    if (this.state[index] !== PieceState.Active) return null;
    const others = this.holders.others(index, key);
    this.holders.clear(index);
    this.state[index] = PieceState.Verifying;
    return others;
  }

  /** The hash matched and the piece is on disk. */
  verified(index: number): void {
    if (this.state[index] === PieceState.Verified) return;
    this.#remove(index);
    this.#failedBy.delete(index);
    this.state[index] = PieceState.Verified;
    this.#verified++;
    while (this.#cursor < this.pieceCount && this.state[this.#cursor] === PieceState.Verified) this.#cursor++;
  }

  /** The hash of the copy `key` sent did not match: the piece is missing again, preferably from someone else. */
  failed(index: number, key: string): void {
    if (this.state[index] !== PieceState.Verifying) return;
    this.state[index] = PieceState.Missing;
    this.#insert(index);
    this.#failedBy.set(index, key);
  }
}
