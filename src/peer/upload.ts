/**
 * The serving half of a peer link: the requests a peer sends us, answered from verified data in order, one at a
 * time, with the socket's back-pressure. Requests while we choke the peer, and requests for a piece we lack, are
 * ignored (BEP 3), or answered with `reject` when the peer speaks the fast extension (BEP 6), as are the requests
 * still queued when we choke it; one out of range or over 16 KiB ends the connection; the queue is capped.
 *
 * @module
 */

import { BLOCK_SIZE } from "../wire/blocks.ts";
import type { LocalPieces } from "../pieces/local_pieces.ts";
import { pieceSize } from "../metainfo/metainfo.ts";
import { encodeMessage } from "../wire/wire.ts";

/** Requests queued per peer before it is dropped for flooding. */
export const MAX_QUEUED_REQUESTS = 2048;

export interface UploadInput {
  pieceLength: number;
  pieceCount: number;
  totalLength: number;
  ours: LocalPieces;
  /** Reads `length` bytes at `offset` of the torrent's data. */
  readBlock: (offset: number, length: number) => Promise<Uint8Array>;
}

interface Request {
  index: number;
  begin: number;
  length: number;
}

export class UploadQueue {
  #queue: Request[] = [];
  #serving = false;
  #choking = true;
  /** Payload bytes sent to this peer. */
  uploaded = 0;
  /** Both sides speak the fast extension: requests we do not serve are rejected, not dropped in silence. */
  fast = false;

  constructor(
    readonly input: UploadInput,
    /** Sends bytes and resolves when the socket took them. */
    readonly send: (bytes: Uint8Array) => Promise<void>,
    /** Ends the connection with a reason. */
    readonly fail: (reason: string) => void,
  ) {}

  get choking(): boolean {
    return this.#choking;
  }

  get queued(): number {
    return this.#queue.length;
  }

  choke(): void {
    if (this.#choking) return;
    this.#choking = true;
    const dropped = this.#queue;
    this.#queue = [];
    this.send(encodeMessage({ type: "choke" }));
    for (const r of dropped) this.#reject(r);
  }

  #reject(r: Request): void {
    if (this.fast) {
      this.send(encodeMessage({ type: "reject", index: r.index, begin: r.begin, length: r.length }));
    }
  }

  unchoke(): void {
    if (!this.#choking) return;
    this.#choking = false;
    this.send(encodeMessage({ type: "unchoke" }));
  }

  request(r: Request): void {
    if (this.#choking) return this.#reject(r);
    const { index, begin, length } = r;
    if (index >= this.input.pieceCount || length === 0 || length > BLOCK_SIZE) {
      return this.fail(`request out of range (piece ${index}, ${length} bytes)`);
    }
    if (begin + length > pieceSize(this.input, index)) {
      return this.fail(`request past the end of piece ${index}`);
    }
    if (!this.input.ours.have.has(index)) return this.#reject(r);
    if (this.#queue.length >= MAX_QUEUED_REQUESTS) {
      return this.fail(`more than ${MAX_QUEUED_REQUESTS} requests queued`);
    }
    this.#queue.push(r);
    this.#serve();
  }

  cancel(r: Request): void {
    this.#queue = this.#queue.filter((q) =>
      q.index !== r.index || q.begin !== r.begin || q.length !== r.length
    );
  }

  async #serve(): Promise<void> {
    if (this.#serving) return;
    this.#serving = true;
    try {
      let r;
      while (!this.#choking && (r = this.#queue.shift())) {
        const block = await this.input.readBlock(r.index * this.input.pieceLength + r.begin, r.length);
        if (this.#choking) break;
        await this.send(encodeMessage({ type: "piece", index: r.index, begin: r.begin, block }));
        this.uploaded += r.length;
        this.input.ours.uploaded += r.length;
      }
    } catch (e) {
      this.fail(`cannot serve a block: ${(e as Error).message}`);
    } finally {
      this.#serving = false;
    }
  }
}
