/** Checking data already on disk against the piece hashes. @module */

import { Bitfield } from "./bitfield.ts";
import { equalBytes, sha1 } from "./bytes.ts";
import { type Metainfo, pieceSize } from "./metainfo.ts";
import type { Storage } from "./storage.ts";

/** Hashes every piece in `storage` (a few at a time) and returns the set whose hash matches. */
export async function checkPieces(meta: Metainfo, storage: Storage, concurrency = 4): Promise<Bitfield> {
  const have = new Bitfield(meta.pieceCount);
  let next = 0;
  async function worker(): Promise<void> {
    while (next < meta.pieceCount) {
      const i = next++;
      const data = await storage.read(i * meta.pieceLength, pieceSize(meta, i));
      const hash = await sha1(data);
      if (equalBytes(hash, meta.pieceHashes.subarray(i * 20, i * 20 + 20))) have.set(i);
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker));
  return have;
}
