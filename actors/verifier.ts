/**
 * The coordinator's verifier: where whole pieces are hashed and written, and where a failed write of any piece,
 * streamed, checked by its link or whole, becomes the event that ends the download. Most pieces come already
 * decided: a large one written as it arrived brings its SHA-1, a small one its link checked and wrote at once
 * (`PieceWriters.settle`) whether it matched; only the rest (a duplicate of a large piece) bring their bytes.
 *
 * @module
 */

import { fromCallback } from "xstate";
import { HASH_SLICE, isHashAt, sha1Now, sha1Piece } from "../src/common/bytes.ts";
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
 * only compared; one its link checked comes with the outcome, taken as it is. Pieces come in the batches peers
 * delivered them in; the verified ones of a batch are reported together, a corrupt one at once (it names the peer
 * to strike). A failed write of a streamed piece (reported by `writers`) ends the download like a failed write
 * here.
 */
export const verifier = fromCallback<
  { type: "verify"; key: string; pieces: WholePiece[] },
  { meta: Metainfo; storage: Storage; writers?: PieceWriters },
  VerifierEvent
>(({ input: { meta, storage, writers }, receive, sendBack }) => {
  let stopped = false;
  const pool = poolFor(meta.pieceLength);
  const digest = new Uint8Array(20);
  if (writers) writers.onError = (message) => !stopped && sendBack({ type: "storage.failed", message });
  /** Reports `indices` verified once the storage wrote what it held back (see `Storage.writeHeld`). */
  const report = (indices: number[]): boolean => {
    if (stopped || indices.length === 0) return !stopped;
    try {
      storage.writeHeld?.();
    } catch (e) {
      sendBack({
        type: "storage.failed",
        message: `cannot write piece ${indices[0]}: ${(e as Error).message}`,
      });
      return false;
    }
    sendBack({ type: "pieces.verified", indices });
    return true;
  };
  receive(async ({ key, pieces }) => {
    const indices: number[] = [];
    for (const piece of pieces) {
      const { index } = piece;
      if (!("data" in piece)) {
        // Already on disk: checked by its link, or written as it arrived and here only its SHA-1 compared.
        const good = "checked" in piece ? piece.checked : isHashAt(meta.pieceHashes, index, piece.digest);
        if (good) indices.push(index);
        else sendBack({ type: "piece.corrupt", index, key });
        continue;
      }
      // Small pieces are hashed and written without a turn of the event loop: thousands a second each made a
      // few promises that lived just long enough to be promoted out of V8's young generation.
      const { data } = piece;
      const hash = data.length <= HASH_SLICE ? sha1Now(data, digest) : await sha1Piece(data);
      if (stopped) return;
      if (!isHashAt(meta.pieceHashes, index, hash)) {
        pool.give(data);
        sendBack({ type: "piece.corrupt", index, key });
        continue;
      }
      try {
        if (storage.writeSync && data.length <= HASH_SLICE) storage.writeSync(index * meta.pieceLength, data);
        else await storage.write(index * meta.pieceLength, data);
        pool.give(data); // written: storages copy what they keep
        indices.push(index);
      } catch (e) {
        // Those before it are on disk, unless what was held back with them fails too.
        if (report(indices)) {
          sendBack({
            type: "storage.failed",
            message: `cannot write piece ${index}: ${(e as Error).message}`,
          });
        }
        return;
      }
    }
    report(indices);
  });
  return () => {
    stopped = true;
    if (writers) writers.onError = undefined;
  };
});
