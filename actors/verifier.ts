/**
 * The coordinator's verifier: the one place whole pieces are hashed and written, and where a failed write of any
 * piece, streamed or whole, becomes the event that ends the download.
 *
 * @module
 */

import { fromCallback } from "xstate";
import { equalBytes, sha1Piece } from "../src/common/bytes.ts";
import { poolFor } from "../src/common/buffer_pool.ts";
import type { Metainfo } from "../src/metainfo/metainfo.ts";
import type { PieceWriters } from "../src/pieces/piece_writers.ts";
import type { Storage } from "../src/storage/storage.ts";
import type { WholePiece } from "../src/pieces/scheduler.ts";

export type VerifierEvent =
  | { type: "pieces.verified"; indices: number[] }
  | { type: "piece.corrupt"; index: number; key: string }
  | { type: "storage.failed"; message: string };

/**
 * Hashes each whole piece and writes it at its offset; a piece already written as it arrived comes with its hash,
 * only compared. Pieces come in the batches peers delivered them in; the verified ones of a batch are reported
 * together, a corrupt one at once (it names the peer to strike). A failed write of a streamed piece (reported by
 * `writers`) ends the download like a failed write here.
 */
export const verifier = fromCallback<
  { type: "verify"; key: string; pieces: WholePiece[] },
  { meta: Metainfo; storage: Storage; writers?: PieceWriters },
  VerifierEvent
>(({ input: { meta, storage, writers }, receive, sendBack }) => {
  let stopped = false;
  const pool = poolFor(meta.pieceLength);
  if (writers) writers.onError = (message) => !stopped && sendBack({ type: "storage.failed", message });
  receive(async ({ key, pieces }) => {
    const indices: number[] = [];
    for (const piece of pieces) {
      const { index } = piece;
      const expected = meta.pieceHashes.subarray(index * 20, index * 20 + 20);
      if ("digest" in piece) {
        if (equalBytes(piece.digest, expected)) indices.push(index);
        else sendBack({ type: "piece.corrupt", index, key });
        continue;
      }
      const { data } = piece;
      const hash = await sha1Piece(data);
      if (stopped) return;
      if (!equalBytes(hash, expected)) {
        pool.give(data);
        sendBack({ type: "piece.corrupt", index, key });
        continue;
      }
      try {
        await storage.write(index * meta.pieceLength, data);
        pool.give(data); // written: storages copy what they keep
        indices.push(index);
      } catch (e) {
        if (!stopped) {
          if (indices.length > 0) sendBack({ type: "pieces.verified", indices }); // those are on disk
          sendBack({
            type: "storage.failed",
            message: `cannot write piece ${index}: ${(e as Error).message}`,
          });
        }
        return;
      }
    }
    if (!stopped && indices.length > 0) sendBack({ type: "pieces.verified", indices });
  });
  return () => {
    stopped = true;
    if (writers) writers.onError = undefined;
  };
});
