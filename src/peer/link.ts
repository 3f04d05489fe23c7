/**
 * The byte-moving half of a peer actor: one TCP connection, its handshake, the frame loop over a preallocated
 * receive buffer, block requests and piece assembly (large pieces go to disk as they arrive: `PieceWriters`). It
 * runs as the `link` actor (`fromCallback`) the peer machine invokes (`actors/peer.ts`) and reports only lifecycle and piece events to it;
 * blocks never travel as XState events, and the pieces completed within one socket read travel together (with
 * 16 KiB pieces a read completes a dozen: one event, not a dozen).
 *
 * @module
 */

import { Bitfield } from "../common/bitfield.ts";
import { equalBytes, toHex } from "../common/bytes.ts";
import { FrameReader } from "../wire/frame_reader.ts";
import { LocalPieces } from "../pieces/local_pieces.ts";
import { MAX_DEPTH, PieceDownloads } from "./download.ts";
import type { WholePiece } from "../pieces/scheduler.ts";
import type { PieceWriter } from "../pieces/piece_writers.ts";
import { type ExtensionEvent, type ExtensionInput, PeerExtensions } from "./extensions.ts";
import { MAX_QUEUED_REQUESTS, UploadQueue } from "./upload.ts";
import {
  decodeHandshake,
  decodeMessage,
  encodeHandshake,
  encodeHaves,
  encodeMessage,
  type Handshake,
  HANDSHAKE_LENGTH,
  isPiece,
  type Message,
  ourReserved,
  readU32,
  supports,
} from "../wire/wire.ts";

/** What a link needs to know. */
export interface LinkInput extends ExtensionInput {
  host: string;
  port: number;
  infoHash: Uint8Array;
  peerId: Uint8Array;
  pieceLength: number;
  pieceCount: number;
  totalLength: number;
  /** The deepest the request pipeline may get (default `MAX_DEPTH`, 512); its depth follows the link's rate and round trip. */
  maxRequests?: number;
  /** A peer with requests outstanding that sends no block for this long is reported stalled. */
  stallMs?: number;
  /** An accepted connection (the peer dialled us): the link reads its handshake first, then answers. */
  conn?: Deno.TcpConn;
  /** What we have and serve; absent for a link that only downloads. */
  ours?: LocalPieces;
  readBlock?: (offset: number, length: number) => Promise<Uint8Array>;
  /** Where large pieces are written as their blocks arrive (see `PieceWriters`); without it all are assembled. */
  writer?: PieceWriter;
  /** Sees every message after the handshake, each way (for debugging; outgoing frames are decoded again). */
  trace?: (direction: "in" | "out", msg: Message) => void;
}

/** Events a link sends to its peer machine. */
export type LinkEvent =
  | { type: "link.connected" }
  | { type: "link.handshaken"; peerId: string; client: string }
  | { type: "link.bitfield"; bitfield: Bitfield }
  | { type: "link.have"; index: number }
  | { type: "link.choked" }
  | { type: "link.unchoked" }
  /**
   * Whole pieces, in the order they completed: every piece finished within one socket read travels in one event,
   * with how many pieces the link wants to hold now (its pipeline's depth follows the measured rate).
   */
  | { type: "link.pieces"; pieces: WholePiece[]; want: number }
  | { type: "link.stalled" }
  /** The peer became interested, or not, in what we have. */
  | { type: "link.interest"; value: boolean }
  /** Payload bytes per second over the last seconds, each way. */
  | { type: "link.rates"; down: number; up: number }
  | { type: "link.closed"; reason: string }
  | ExtensionEvent;

/** Commands the peer machine sends to its link. */
export type LinkCommand =
  | { type: "interested" }
  | { type: "not-interested" }
  | { type: "fetch"; indices: number[] }
  | { type: "cancel"; index: number }
  | { type: "drop" }
  | { type: "choke" }
  | { type: "unchoke" };

const MAX_FRAME = 128 * 1024 + 16;
const KEEPALIVE_MS = 90_000;
const IDLE_MS = 180_000;

/** Best-effort client name from an Azureus-style peer id (`-TR3000-…`). */
export function clientName(peerId: Uint8Array): string {
  const text = new TextDecoder().decode(peerId.subarray(0, 8));
  return /^-[A-Za-z~]{2}[0-9A-Za-z]{4}-$/.test(text) ? text.slice(1, 7) : "unknown";
}

/** One peer connection; `actors/peer.ts` runs it as the peer machine's `link` actor. */
export class PeerLink {
  #conn?: Deno.TcpConn;
  #reader: FrameReader;
  #closed = false;
  #choked = true;
  #bitfield: Bitfield;
  /** True once the machine has this peer's bitfield: from a bitfield message, or the first have without one. */
  #announced = false;
  readonly downloads: PieceDownloads;
  #writes: Promise<void> = Promise.resolve();
  #lastRecv = Date.now();
  #lastSend = Date.now();
  #timer?: ReturnType<typeof setInterval>;
  readonly maxRequests: number;
  readonly stallMs: number;
  readonly ours: LocalPieces;
  readonly upload: UploadQueue;
  /** How far into `ours.log` this peer has been told. */
  #haveCursor = 0;
  #peerInterested = false;
  /** Both sides speak the fast extension (BEP 6). */
  #fast = false;
  #ext?: PeerExtensions;
  #ratesShown = false;
  #rateMark = { at: Date.now(), down: 0, up: 0 };
  /** Pieces completed since the last `link.pieces`. */
  #completed: WholePiece[] = [];
  readonly #emit: (e: LinkEvent) => void;

  constructor(readonly input: LinkInput, emit: (e: LinkEvent) => void) {
    this.#emit = emit;
    this.#reader = new FrameReader(Math.max(MAX_FRAME, Math.ceil(input.pieceCount / 8) + 1));
    this.#bitfield = new Bitfield(input.pieceCount);
    this.maxRequests = input.maxRequests ?? MAX_DEPTH;
    this.stallMs = input.stallMs ?? 30_000;
    this.downloads = new PieceDownloads(input, this.maxRequests, Date.now, input.writer);
    this.ours = input.ours ?? new LocalPieces(input.pieceCount);
    const readBlock = input.readBlock ?? (() => Promise.reject(new Error("this link does not serve")));
    this.upload = new UploadQueue(
      { ...input, ours: this.ours, readBlock },
      (bytes) => this.#send(bytes),
      (reason) => this.#finish(reason),
    );
  }

  /** Connects, handshakes and runs the message loop until the connection ends; never rejects. */
  async run(): Promise<void> {
    try {
      const incoming = this.input.conn !== undefined;
      this.#conn = this.input.conn ??
        await Deno.connect({ hostname: this.input.host, port: this.input.port });
      if (this.#closed) return this.#conn.close();
      this.#conn.setNoDelay(true);
      this.emit({ type: "link.connected" });
      const ours = encodeHandshake(this.input.infoHash, this.input.peerId, ourReserved());
      if (!incoming) this.#send(ours, false);
      const hs = await this.#handshake();
      if (incoming) this.#send(ours, false);
      this.#fast = supports(hs.reserved, "fast");
      this.upload.fast = this.#fast;
      if (supports(hs.reserved, "extended")) {
        const remote = { host: this.input.host, port: this.input.port };
        this.#ext = new PeerExtensions(this.input, remote, (bytes) => this.#send(bytes), (e) => this.emit(e));
        this.#send(this.#ext.handshake(MAX_QUEUED_REQUESTS));
      }
      this.#haveCursor = this.ours.log.length;
      if (this.#fast && this.ours.have.complete) this.#send(encodeMessage({ type: "have-all" }));
      else if (this.#fast && this.ours.have.count === 0) this.#send(encodeMessage({ type: "have-none" }));
      else if (this.ours.have.count > 0) {
        this.#send(encodeMessage({ type: "bitfield", bits: this.ours.have.bytes }));
      }
      this.#timer = setInterval(() => this.#checkTimers(), 1000);
      while (!this.#closed) {
        let frame;
        while (!this.#closed && (frame = this.#reader.next()) !== null) {
          if (isPiece(frame) && !this.input.trace) {
            this.#block(readU32(frame, 1), readU32(frame, 5), frame.subarray(9));
          } else this.#handle(decodeMessage(frame));
        }
        if (this.#closed) return;
        this.#flushPieces();
        this.#announceHaves();
        this.#pump(); // refill the pipeline once per read, in one write, not once per block
        const n = await this.#conn.read(this.#reader.space());
        if (n === null) return this.#finish("peer closed the connection");
        this.#reader.filled(n);
        this.#lastRecv = Date.now();
      }
    } catch (e) {
      this.#finish(e instanceof Error ? e.message : String(e));
    }
  }

  async #handshake(): Promise<Handshake> {
    let bytes;
    while ((bytes = this.#reader.take(HANDSHAKE_LENGTH)) === null) {
      const n = await this.#conn!.read(this.#reader.space());
      if (n === null) throw new Error("peer closed the connection during the handshake");
      this.#reader.filled(n);
    }
    const hs = decodeHandshake(bytes);
    if (!equalBytes(hs.infoHash, this.input.infoHash)) throw new Error("peer answered for another infohash");
    if (equalBytes(hs.peerId, this.input.peerId)) throw new Error("connected to ourselves");
    this.emit({ type: "link.handshaken", peerId: toHex(hs.peerId), client: clientName(hs.peerId) });
    return hs;
  }

  /** Obeys a command from the peer machine. */
  command(cmd: LinkCommand): void {
    if (this.#closed) return;
    switch (cmd.type) {
      case "interested":
      case "not-interested":
        this.#send(encodeMessage({ type: cmd.type }));
        break;
      case "fetch":
        for (const index of cmd.indices) this.downloads.add(index);
        this.#pump();
        break;
      case "cancel":
        this.#cancel(cmd.index);
        break;
      case "drop":
        this.downloads.drop();
        break;
      case "choke":
        this.upload.choke();
        break;
      case "unchoke":
        this.upload.unchoke();
        break;
    }
  }

  /** Closes the connection; the link reports nothing more. */
  close(): void {
    this.#closed = true;
    clearInterval(this.#timer);
    try {
      this.#conn?.close();
    } catch { /* already closed */ }
  }

  #finish(reason: string): void {
    if (this.#closed) return;
    this.close();
    this.emit({ type: "link.closed", reason });
  }

  #handle(msg: Message): void {
    this.input.trace?.("in", msg);
    switch (msg.type) {
      case "choke":
        if (this.#choked) return;
        this.#choked = true;
        this.downloads.drop();
        this.emit({ type: "link.choked" });
        return;
      case "unchoke":
        if (!this.#choked) return;
        this.#choked = false;
        this.downloads.lastBlock = Date.now();
        this.emit({ type: "link.unchoked" });
        this.#pump();
        return;
      case "have":
        if (msg.index >= this.input.pieceCount) {
          return this.#finish(`have for piece ${msg.index} out of range`);
        }
        if (!this.#bitfield.set(msg.index)) return;
        if (this.#announced) return this.emit({ type: "link.have", index: msg.index });
        this.#announced = true; // a peer that sends no bitfield starts with nothing: haves build it up
        return this.emit({ type: "link.bitfield", bitfield: this.#bitfield });
      case "have-all":
      case "have-none":
      case "bitfield": {
        if (msg.type !== "bitfield" && !this.#fast) {
          return this.#finish(`${msg.type} without the fast extension`);
        }
        // A bitfield throws on the wrong size or spare bits.
        const bits = msg.type === "bitfield"
          ? new Bitfield(this.input.pieceCount, msg.bits)
          : Bitfield.filled(this.input.pieceCount, msg.type === "have-all");
        if (!this.#announced) {
          this.#announced = true;
          this.#bitfield = bits;
          return this.emit({ type: "link.bitfield", bitfield: bits });
        }
        // A bitfield after a bitfield or haves (aria2c sends one): peers only gain pieces, so it adds to what we knew.
        for (let i = 0; i < this.input.pieceCount; i++) {
          if (bits.has(i) && this.#bitfield.set(i)) this.emit({ type: "link.have", index: i });
        }
        return;
      }
      case "piece":
        return this.#block(msg.index, msg.begin, msg.block);
      case "interested":
      case "not-interested": {
        const value = msg.type === "interested";
        if (value === this.#peerInterested) return;
        this.#peerInterested = value;
        return this.emit({ type: "link.interest", value });
      }
      case "request":
        return this.upload.request(msg);
      case "cancel":
        return this.upload.cancel(msg);
      case "reject":
        if (!this.#fast) return this.#finish("reject without the fast extension");
        if (!this.downloads.reject(msg.index, msg.begin, msg.length)) {
          return this.#finish(`peer rejected piece ${msg.index} block ${msg.begin} twice`);
        }
        return this.#pump();
      case "extended":
        if (!this.#ext) return this.#finish("extended message without the extension protocol");
        this.#ext.handle(msg.ext, msg.payload);
        if (msg.ext === 0 && this.#ext.peer?.reqq) this.downloads.limit(this.#ext.peer.reqq);
        return;
      default:
        return; // port, suggest and allowed-fast (we only download when unchoked), and ids we do not speak
    }
  }

  #block(index: number, begin: number, block: Uint8Array): void {
    const piece = this.downloads.block(index, begin, block);
    if (piece) this.#completed.push(piece);
  }

  /** Reports the pieces completed so far (before any other event, so the machine sees events in wire order). */
  #flushPieces(): void {
    if (this.#completed.length === 0) return;
    const pieces = this.#completed;
    this.#completed = [];
    this.#emit({ type: "link.pieces", pieces, want: this.downloads.wantedPieces });
  }

  /** Reports `e` to the peer machine. */
  emit(e: LinkEvent): void {
    this.#flushPieces();
    this.#emit(e);
  }

  /** Forgets one piece (another peer delivered it) and cancels its blocks still on the wire. */
  #cancel(index: number): void {
    const cancels = this.downloads.cancel(index);
    if (cancels && !this.#choked) this.#send(cancels);
    this.#pump();
  }

  /** Sends as many block requests as the pipeline allows, batched into one write. */
  #pump(): void {
    if (this.#choked || this.#closed) return;
    const requests = this.downloads.requests();
    if (requests) this.#send(requests);
  }

  /** Queues bytes for the socket; resolves when they are written (the uploader waits on it: back-pressure). */
  #send(bytes: Uint8Array, framed = true): Promise<void> {
    this.#lastSend = Date.now();
    if (this.input.trace && framed) {
      const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      for (let at = 0; at + 4 <= bytes.length; at += 4 + v.getUint32(at)) {
        this.input.trace("out", decodeMessage(bytes.subarray(at + 4, at + 4 + v.getUint32(at))));
      }
    }
    this.#writes = this.#writes.then(async () => {
      let at = 0;
      while (at < bytes.length && !this.#closed) at += await this.#conn!.write(bytes.subarray(at));
    }).catch((e) => this.#finish(`write failed: ${(e as Error).message}`));
    return this.#writes;
  }

  /** Tells the peer about pieces verified since it was last told, in one write. */
  #announceHaves(): void {
    const log = this.ours.log;
    if (this.#haveCursor === log.length) return;
    const haves = encodeHaves(log, this.#haveCursor);
    this.#haveCursor = log.length;
    this.#send(haves);
  }

  #checkTimers(): void {
    const now = Date.now();
    if (now - this.#lastRecv > IDLE_MS) return this.#finish("peer sent nothing for 3 minutes");
    if (this.downloads.stalled(now, this.stallMs)) {
      this.downloads.lastBlock = now;
      this.emit({ type: "link.stalled" });
    }
    this.#announceHaves();
    this.#ext?.tick(now);
    if (now - this.#lastSend > KEEPALIVE_MS) this.#send(encodeMessage({ type: "keep-alive" }));
    if (now - this.#rateMark.at >= 2000) {
      const seconds = (now - this.#rateMark.at) / 1000;
      const down = (this.downloads.downloaded - this.#rateMark.down) / seconds,
        up = (this.upload.uploaded - this.#rateMark.up) / seconds;
      this.#rateMark = { at: now, down: this.downloads.downloaded, up: this.upload.uploaded };
      if (down > 0 || up > 0 || this.#ratesShown) this.emit({ type: "link.rates", down, up });
      this.#ratesShown = down > 0 || up > 0;
    }
  }
}
