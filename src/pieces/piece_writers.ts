/**
 * Who may write each large piece to disk while it downloads. A piece larger than `streamAbove` is not assembled
 * in memory: the coordinator grants it to the first peer it assigns it to, whose link writes it a chunk at a
 * time, hashing as it goes, and only the SHA-1 travels back. Grants are what keeps verified bytes safe: the
 * coordinator revokes a piece's grant before it takes any copy of that piece, and when it takes the piece back
 * from the peer that holds it, and grants only at assignment, so a peer that lost a piece (a duplicate in the
 * endgame whose cancel is still on its way, a peer that stalled) cannot write over bytes another copy put there.
 * A peer without the grant (the endgame's second and third holders) assembles its copy in memory as before.
 *
 * A smaller piece, which nobody is ever granted, is assembled in memory and then `settle`d by the link that
 * completed it: hashed and, when it matches, written at once. Any two copies that match are the same bytes, so no
 * grant is needed, and the buffer goes back at once instead of waiting for the coordinator (a 10,000-file torrent's
 * download peaked 7 MiB lower, 1 GiB in 256 KiB pieces 10 MiB lower).
 *
 * @module
 */

import { HASH_SLICE, isHashAt, sha1Now } from "../common/bytes.ts";
import { poolFor } from "../common/buffer_pool.ts";

/** A piece assembled in memory: its bytes, not yet hashed. */
export type AssembledPiece = { index: number; data: Uint8Array };

/** A small piece its link hashed (`settle`): whether it matched its hash, and so was written. */
export type CheckedPiece = { index: number; checked: boolean };

/** One peer's view of the grants, as its download bookkeeping uses them. */
export interface PieceWriter {
  /** True when this peer holds piece `index`'s grant: the piece is written as it arrives, not assembled. */
  claim(index: number): boolean;
  /** Writes `data` at `begin` of piece `index`; false when this peer no longer holds the piece or the disk failed. */
  put(index: number, begin: number, data: Uint8Array): boolean;
  /** A piece assembled in memory, checked and written at once where that is safe (see `PieceWriters.settle`). */
  settle(piece: AssembledPiece): AssembledPiece | CheckedPiece | undefined;
}

export class PieceWriters {
  #owner = new Map<number, string>();
  #failed = false;
  readonly #digest = new Uint8Array(20);
  /** Told once, when a write fails: the download cannot go on. */
  onError?: (message: string) => void;

  constructor(
    readonly write: (offset: number, data: Uint8Array) => void,
    readonly pieceLength: number,
    readonly streamAbove: number,
    /** The torrent's piece hashes: with them, small assembled pieces are checked and written by `settle`. */
    readonly hashes?: Uint8Array,
  ) {}

  /** The peer holding piece `index`'s grant, if any. */
  owner(index: number): string | undefined {
    return this.#owner.get(index);
  }

  /** Piece `index` (of `length` bytes) was assigned to `key`: it streams there unless someone else holds it. */
  grant(index: number, key: string, length: number): void {
    if (length > this.streamAbove && !this.#owner.has(index)) this.#owner.set(index, key);
  }

  claim(index: number, key: string): boolean {
    return !this.#failed && this.#owner.get(index) === key;
  }

  put(index: number, key: string, begin: number, data: Uint8Array): boolean {
    if (this.#failed || this.#owner.get(index) !== key) return false;
    return this.#write(index, begin, data);
  }

  #write(index: number, begin: number, data: Uint8Array): boolean {
    try {
      this.write(index * this.pieceLength + begin, data);
      return true;
    } catch (e) {
      this.#failed = true;
      this.onError?.(`cannot write piece ${index}: ${(e as Error).message}`);
      return false;
    }
  }

  /**
   * A piece assembled in memory, hashed and, when it matches, written now, its buffer given back: a piece no peer
   * can hold the grant of (not over `streamAbove`) may be written by any copy that matches its hash, as they are
   * the same bytes. Returns the piece as checked (`{ index, checked }`), or as it came (for the verifier) when it
   * is too large to hash at once or may be granted; undefined when the write failed (`onError` was told).
   */
  settle(piece: AssembledPiece): AssembledPiece | CheckedPiece | undefined {
    const { index, data } = piece;
    if (!this.hashes || this.#failed || data.length > this.streamAbove || data.length > HASH_SLICE) {
      return piece;
    }
    const checked = isHashAt(this.hashes, index, sha1Now(data, this.#digest));
    if (checked && !this.#write(index, 0, data)) return;
    poolFor(this.pieceLength).give(data); // written, or corrupt: storages copy what they keep
    return { index, checked };
  }

  /** Nobody writes piece `index` any more; with `key`, only if `key` held it. */
  revoke(index: number, key?: string): void {
    if (key === undefined || this.#owner.get(index) === key) this.#owner.delete(index);
  }

  /** The view of peer `key`. */
  for(key: string): PieceWriter {
    return {
      claim: (index) => this.claim(index, key),
      put: (index, begin, data) => this.put(index, key, begin, data),
      settle: (piece) => this.settle(piece),
    };
  }
}
