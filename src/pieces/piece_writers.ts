/**
 * Who may write each large piece to disk while it downloads. A piece larger than `streamAbove` is not assembled
 * in memory: the coordinator grants it to the first peer it assigns it to, whose link writes it a chunk at a
 * time, hashing as it goes, and only the SHA-1 travels back. Grants are what keeps verified bytes safe: the
 * coordinator revokes a piece's grant before it takes any copy of that piece, and when it takes the piece back
 * from the peer that holds it, and grants only at assignment, so a peer that lost a piece (a duplicate in the
 * endgame whose cancel is still on its way, a peer that stalled) cannot write over bytes another copy put there.
 * A peer without the grant (the endgame's second and third holders) assembles its copy in memory as before.
 *
 * @module
 */

/** One peer's view of the grants, as its download bookkeeping uses them. */
export interface PieceWriter {
  /** True when this peer holds piece `index`'s grant: the piece is written as it arrives, not assembled. */
  claim(index: number): boolean;
  /** Writes `data` at `begin` of piece `index`; false when this peer no longer holds the piece or the disk failed. */
  put(index: number, begin: number, data: Uint8Array): boolean;
}

export class PieceWriters {
  #owner = new Map<number, string>();
  #failed = false;
  /** Told once, when a write fails: the download cannot go on. */
  onError?: (message: string) => void;

  constructor(
    readonly write: (offset: number, data: Uint8Array) => void,
    readonly pieceLength: number,
    readonly streamAbove: number,
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
    try {
      this.write(index * this.pieceLength + begin, data);
      return true;
    } catch (e) {
      this.#failed = true;
      this.onError?.(`cannot write piece ${index}: ${(e as Error).message}`);
      return false;
    }
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
    };
  }
}
