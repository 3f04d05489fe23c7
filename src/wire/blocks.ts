/** Block arithmetic: pieces are requested in 16 KiB blocks; the last block of a piece may be short. @module */

/** The request size every client uses (BEP 3 and practice). */
export const BLOCK_SIZE = 16384;

/** Number of blocks in a piece of `pieceLength` bytes. */
export function blockCount(pieceLength: number): number {
  return Math.ceil(pieceLength / BLOCK_SIZE);
}

/** Length of block `block` in a piece of `pieceLength` bytes. */
export function blockLength(pieceLength: number, block: number): number {
  return Math.min(BLOCK_SIZE, pieceLength - block * BLOCK_SIZE);
}
