/** Checking data already on disk against the piece hashes. @module */

import { Bitfield } from "../common/bitfield.ts";
import { isHashAt, sha1Piece } from "../common/bytes.ts";
import { type Metainfo, pieceSize } from "../metainfo/metainfo.ts";
import type { Storage } from "./storage.ts";

/** True when every byte of `data` is zero (8 bytes at a time where alignment allows). */
export function allZero(data: Uint8Array): boolean {
  const head = (8 - (data.byteOffset % 8)) % 8;
  for (let i = 0; i < Math.min(head, data.length); i++) if (data[i] !== 0) return false;
  const words = Math.max(0, Math.floor((data.length - head) / 8));
  const wide = new BigUint64Array(data.buffer, data.byteOffset + head, words);
  for (let i = 0; i < words; i++) if (wide[i] !== 0n) return false;
  for (let i = head + words * 8; i < data.length; i++) if (data[i] !== 0) return false;
  return true;
}

/**
 * Hashes every piece in `storage`, `concurrency` reads at a time (hashing is `sha1Piece`), and returns
 * the set whose hash matches. Spans the storage knows were never written are skipped without reading, and a piece
 * that reads as all zeros is compared with the hash of zeros, computed once per length, instead of being hashed.
 * Each reader reuses one buffer when the storage can read into it: a fresh buffer per piece left the whole
 * torrent's size in dead buffers that the collector had no reason to free (a 32 MiB seed idled at 95 MiB, not 65).
 */
export async function checkPieces(meta: Metainfo, storage: Storage, concurrency = 4): Promise<Bitfield> {
  const have = new Bitfield(meta.pieceCount);
  const zeroHashes = new Map<number, Promise<Uint8Array>>();
  const zeroHash = (length: number) => {
    let h = zeroHashes.get(length);
    if (!h) zeroHashes.set(length, h = sha1Piece(new Uint8Array(length)));
    return h;
  };
  let next = 0;
  async function worker(): Promise<void> {
    let buffer: Uint8Array | undefined;
    while (next < meta.pieceCount) {
      const i = next++;
      const offset = i * meta.pieceLength, length = pieceSize(meta, i);
      let hash: Uint8Array;
      if (storage.unwritten?.(offset, length)) {
        hash = await zeroHash(length);
      } else {
        let data: Uint8Array;
        if (storage.readInto) {
          data = (buffer ??= new Uint8Array(meta.pieceLength)).subarray(0, length);
          storage.readInto(offset, data);
        } else data = await storage.read(offset, length);
        hash = allZero(data) ? await zeroHash(length) : await sha1Piece(data);
      }
      if (isHashAt(meta.pieceHashes, i, hash)) have.set(i);
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker));
  return have;
}
