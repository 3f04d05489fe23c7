/**
 * What we have, shared by reference between the coordinator (which adds verified pieces) and every peer link
 * (which announces them with `have`, serves them, and counts what it uploads). Links read the append-only log from
 * their own cursor, so a verified piece costs no event per peer.
 *
 * @module
 */

import { Bitfield } from "../common/bitfield.ts";

export class LocalPieces {
  readonly have: Bitfield;
  /**
   * Indices in the order they were verified (this session), for links to announce: the first `logged` of them.
   * Made at its full size once (each piece is added once): a growing array was copied again and again.
   */
  readonly log: Int32Array;
  logged = 0;
  /** Payload bytes uploaded to all peers. */
  uploaded = 0;

  constructor(pieceCount: number, initial?: Bitfield) {
    this.have = new Bitfield(pieceCount, initial?.bytes);
    this.log = new Int32Array(pieceCount);
  }

  /** Bytes in the pieces we have, for a torrent of `totalLength` bytes in pieces of `pieceLength`. */
  verifiedBytes(pieceLength: number, totalLength: number): number {
    const last = this.have.size - 1;
    const lastShort = last >= 0 && this.have.has(last) ? pieceLength * this.have.size - totalLength : 0;
    return this.have.count * pieceLength - lastShort;
  }

  /** Records a verified piece; returns false when it was already there. */
  add(index: number): boolean {
    if (!this.have.set(index)) return false;
    this.log[this.logged++] = index;
    return true;
  }
}
