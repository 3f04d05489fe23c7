/**
 * What a peer link tells its machine about the peer's data, batched: the pieces it completed and the pieces the
 * peer announced. Each report is a handful of XState events (link, peer, coordinator, verifier and back); one per
 * piece completed, or per `have` received, was most of what a download or a seeder allocated at full speed.
 *
 * @module
 */

import type { WholePiece } from "../pieces/scheduler.ts";
import type { LinkEvent } from "./link_events.ts";

/** Bytes of whole pieces waiting that make a report due (16 pieces of 256 KiB; 128 of 16 KiB, see `PIECES_DUE`). */
const BYTES_DUE = 4 * 1024 * 1024;
/** Pieces waiting that make a report due, however small. */
const PIECES_DUE = 128;
/** How long the first completed piece may wait for others. */
const PIECE_WAIT_MS = 20;

/**
 * Completed pieces that may wait for one report: a link asks for this many pieces beyond what its pipeline
 * needs, so the pipeline stays full while they wait.
 */
export function reportBatch(pieceLength: number): number {
  return Math.min(PIECES_DUE, Math.ceil(BYTES_DUE / pieceLength));
}

export class LinkReports {
  #completed: WholePiece[] = [];
  /**
   * Bytes of the pieces in `#completed`: held in memory, or checked and written by the link (`checked`), which
   * keeps reports the size they were; a large piece written as it arrived counts none, as it is reported at once.
   */
  #bytes = 0;
  /** Reports the waiting pieces when the first has waited `PIECE_WAIT_MS`, if nothing did before. */
  #timer?: ReturnType<typeof setTimeout>;
  #haves: number[] = [];

  /** `emit` reports to the peer machine; `want` says how many pieces the link wants now. */
  constructor(readonly emit: (e: LinkEvent) => void, readonly want: () => number) {}

  /** A piece all of whose blocks arrived, of `bytes` bytes (by default, what it holds). */
  completed(piece: WholePiece, bytes = "data" in piece ? piece.data.length : 0): void {
    if (this.#completed.length === 0) this.#timer = setTimeout(() => this.flushPieces(), PIECE_WAIT_MS);
    this.#completed.push(piece);
    this.#bytes += bytes;
  }

  /** The peer announced a piece (a `have`, or a bit of a later bitfield). */
  has(index: number): void {
    this.#haves.push(index);
  }

  /**
   * Completed pieces are due once 4 MiB of them wait (or 128), a piece written as it arrived at once, or when the
   * link holds fewer pieces to ask for than half it wants (`assigned`): the coordinator then gives it more.
   * Otherwise the first waits 20 ms at most, for company.
   */
  piecesDue(assigned: number): boolean {
    const waiting = this.#completed.length;
    if (waiting === 0) return false;
    const streamed = "digest" in this.#completed[waiting - 1];
    return streamed || this.#bytes >= BYTES_DUE || waiting >= PIECES_DUE || 2 * assigned < this.want();
  }

  /** Reports the completed pieces, with how many pieces the link wants. */
  flushPieces(): void {
    clearTimeout(this.#timer);
    if (this.#completed.length === 0) return;
    this.emit({ type: "link.pieces", pieces: this.#completed, want: this.want() });
    this.#completed = [];
    this.#bytes = 0;
  }

  /** Reports everything waiting, pieces first. */
  flush(): void {
    this.flushPieces();
    this.flushHaves();
  }

  /** The link is closed: nothing is reported any more. */
  close(): void {
    clearTimeout(this.#timer);
  }

  /** Reports the pieces the peer announced since the last report. */
  flushHaves(): void {
    if (this.#haves.length === 0) return;
    this.emit({ type: "link.haves", indices: this.#haves });
    this.#haves = [];
  }
}
