/**
 * A magnet link's metadata (BEP 9) as its 16 KiB ut_metadata pieces arrive from peers: the size the first peer
 * announces, the pieces in and who sent each, and the check of the whole against the infohash.
 *
 * @module
 */

import { equalBytes, sha1 } from "../common/bytes.ts";
import { MAX_METADATA, metadataPieceLength, metadataPieces } from "../wire/extension.ts";

/** The metadata being assembled: its size, once a peer told it, and the pieces in. */
export class MetadataAssembly {
  size?: number;
  #pieces: (Uint8Array | undefined)[] = [];
  /** Who sent each piece, to drop them all when the whole fails its hash. */
  #senders: string[] = [];

  /** Adopts the size the first peer announces; false for a size we refuse or one that differs from it. */
  accept(size: number): boolean {
    if (size <= 0 || size > MAX_METADATA) return false;
    if (this.size === undefined) {
      this.size = size;
      this.#pieces = new Array(metadataPieces(size));
    }
    return this.size === size;
  }

  get pieceCount(): number {
    return this.#pieces.length;
  }

  get received(): number {
    return this.#pieces.filter((p) => p !== undefined).length;
  }

  has(piece: number): boolean {
    return this.#pieces[piece] !== undefined;
  }

  /** Stores a piece; false when it does not fit (wrong total size, index or length). */
  add(piece: number, totalSize: number, data: Uint8Array, from: string): boolean {
    if (this.size === undefined || totalSize !== this.size || piece >= this.#pieces.length) return false;
    if (data.length !== metadataPieceLength(this.size, piece)) return false;
    this.#pieces[piece] = data;
    this.#senders[piece] = from;
    return true;
  }

  get complete(): boolean {
    return this.size !== undefined && this.received === this.#pieces.length;
  }

  /** The assembled metadata when its SHA-1 is the infohash; otherwise undefined, with the senders to blame. */
  async verify(infoHash: Uint8Array): Promise<{ info?: Uint8Array; blame: string[] }> {
    const info = new Uint8Array(this.size!);
    this.#pieces.forEach((p, i) => info.set(p!, i * 16384));
    if (equalBytes(await sha1(info), infoHash)) return { info, blame: [] };
    const blame = [...new Set(this.#senders)];
    this.#pieces = new Array(this.#pieces.length);
    this.#senders = [];
    return { blame };
  }
}
