/**
 * The byte-moving half of a peer actor, over one `PeerConnection`: the frame loop, block requests through the
 * pipeline, piece assembly (large pieces go to disk as they arrive: `PieceWriters`), uploads and extensions. It
 * runs as the `link` actor (`fromCallback`) the peer machine invokes (`actors/peer.ts`) and reports only
 * lifecycle and piece events to it; blocks never travel as XState events, and the pieces completed within one
 * socket read travel together (with 16 KiB pieces a read completes a dozen: one event, not a dozen).
 *
 * @module
 */

import { Bitfield } from "../common/bitfield.ts";
import { toHex } from "../common/bytes.ts";
import { LocalPieces } from "../pieces/local_pieces.ts";
import { PieceDownloads } from "./download.ts";
import { maxDepthFor } from "./pipeline.ts";
import { PeerConnection } from "./connection.ts";
import type { LinkCommand, LinkEvent, LinkInput } from "./link_events.ts";
import { PeerExtensions } from "./extensions.ts";
import { LinkReports, reportBatch } from "./link_reports.ts";
import { MAX_QUEUED_REQUESTS, UploadQueue } from "./upload.ts";
import {
  decodeMessage,
  encodeHaves,
  encodeMessage,
  isRequest,
  type Message,
  ourReserved,
  readU32,
  supports,
} from "../wire/wire.ts";

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
  readonly #conn: PeerConnection;
  #closed = false;
  #choked = true;
  #bitfield: Bitfield;
  /** True once the machine has this peer's bitfield: from a bitfield message, or the first have without one. */
  #announced = false;
  readonly downloads: PieceDownloads;
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
  /** Completed pieces and the peer's new pieces, reported in batches. */
  readonly #reports: LinkReports;
  readonly #emit: (e: LinkEvent) => void;

  constructor(readonly input: LinkInput, emit: (e: LinkEvent) => void) {
    this.#emit = emit;
    const batch = reportBatch(input.pieceLength);
    this.#reports = new LinkReports(emit, () => this.downloads.wantedPieces + batch);
    const maxFrame = Math.max(MAX_FRAME, Math.ceil(input.pieceCount / 8) + 1);
    this.#conn = new PeerConnection(input, maxFrame, (reason) => this.#finish(reason));
    this.#bitfield = new Bitfield(input.pieceCount);
    this.maxRequests = input.maxRequests ?? maxDepthFor(input.pieceLength);
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
    const conn = this.#conn;
    try {
      if (!await conn.connect()) return;
      this.emit({ type: "link.connected" });
      const hs = await conn.handshake(ourReserved(this.input.dhtPort !== undefined));
      this.emit({
        type: "link.handshaken",
        peerId: toHex(hs.peerId),
        client: clientName(hs.peerId),
        transport: conn.transport,
        via: conn.via,
      });
      this.#fast = supports(hs.reserved, "fast");
      this.upload.fast = this.#fast;
      if (supports(hs.reserved, "extended")) {
        const remote = { host: this.input.host, port: this.input.port };
        this.#ext = new PeerExtensions(this.input, remote, (bytes) => this.#send(bytes), (e) => this.emit(e));
        this.#send(this.#ext.handshake(MAX_QUEUED_REQUESTS));
      }
      if (this.input.dhtPort && supports(hs.reserved, "dht")) {
        this.#send(encodeMessage({ type: "port", port: this.input.dhtPort }));
      }
      this.#haveCursor = this.ours.logged;
      if (this.#fast && this.ours.have.complete) this.#send(encodeMessage({ type: "have-all" }));
      else if (this.#fast && this.ours.have.count === 0) this.#send(encodeMessage({ type: "have-none" }));
      else if (this.ours.have.count > 0) {
        this.#send(encodeMessage({ type: "bitfield", bits: this.ours.have.bytes }));
      }
      this.#timer = setInterval(() => this.#checkTimers(), 1000);
      const { reader } = conn;
      const blocks = !this.input.trace; // a traced link decodes every message, blocks too
      while (!this.#closed) {
        let frame;
        while (!this.#closed) {
          const block = blocks ? reader.nextBlock() : null;
          if (block) {
            this.#block(reader.blockIndex, reader.blockBegin, block);
            continue;
          }
          if ((frame = reader.next()) === null) break;
          if (isRequest(frame) && blocks) {
            this.upload.request(readU32(frame, 1), readU32(frame, 5), readU32(frame, 9));
          } else this.#handle(decodeMessage(frame));
        }
        if (this.#closed) return;
        if (this.#reports.piecesDue(this.downloads.pieces)) this.#reports.flushPieces();
        // The peer's new pieces matter at once while we lack pieces; when we have them all, once a second will do.
        if (!this.ours.have.complete) this.#reports.flushHaves();
        this.#announceHaves();
        this.#pump(); // refill the pipeline once per read, in one write, not once per block
        if (this.downloads.pipeline.outstanding === 0) reader.idle(); // no block due: a small buffer will do
        if (!await conn.fill()) return this.#finish("peer closed the connection");
      }
    } catch (e) {
      this.#finish(e instanceof Error ? e.message : String(e));
    } finally {
      // The connection is closed (every way out of the loop closes it) and no read is pending: the buffers go
      // to the next connection.
      conn.release();
      this.upload.release();
    }
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
    this.#reports.close();
    clearInterval(this.#timer);
    this.#conn.close();
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
        this.downloads.pipeline.lastBlock = Date.now();
        this.emit({ type: "link.unchoked" });
        this.#pump();
        return;
      case "have":
        if (msg.index >= this.input.pieceCount) {
          return this.#finish(`have for piece ${msg.index} out of range`);
        }
        if (!this.#bitfield.set(msg.index)) return;
        if (this.#announced) return this.#reports.has(msg.index);
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
          if (bits.has(i) && this.#bitfield.set(i)) this.#reports.has(i);
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
        return this.upload.request(msg.index, msg.begin, msg.length);
      case "cancel":
        return this.upload.cancel(msg.index, msg.begin, msg.length);
      case "reject":
        if (!this.#fast) return this.#finish("reject without the fast extension");
        if (!this.downloads.reject(msg.index, msg.begin, msg.length)) {
          return this.#finish(`peer rejected piece ${msg.index} block ${msg.begin} twice`);
        }
        return this.#pump();
      case "extended":
        if (!this.#ext) return this.#finish("extended message without the extension protocol");
        this.#ext.handle(msg.ext, msg.payload);
        if (msg.ext === 0 && this.#ext.peer?.reqq) this.downloads.pipeline.limit(this.#ext.peer.reqq);
        return;
      case "port":
        if (msg.port > 0) this.emit({ type: "link.dht-port", port: msg.port });
        return;
      default:
        return; // suggest and allowed-fast (we only download when unchoked), and ids we do not speak
    }
  }

  #block(index: number, begin: number, block: Uint8Array): void {
    const piece = this.downloads.block(index, begin, block);
    if (!piece) return;
    if (!("data" in piece) || !this.input.writer) return this.#reports.completed(piece);
    // Checked and written now where it can be: its buffer goes back at once instead of waiting for the report.
    const size = piece.data.length;
    const settled = this.input.writer.settle(piece);
    if (settled) this.#reports.completed(settled, size);
  }

  /** Reports `e` to the peer machine, after what came before it on the wire. */
  emit(e: LinkEvent): void {
    this.#reports.flush();
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

  /** Queues frames for the socket; resolves when they are written (the uploader waits on it: back-pressure). */
  #send(bytes: Uint8Array): Promise<void> {
    if (this.input.trace) {
      const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      for (let at = 0; at + 4 <= bytes.length; at += 4 + v.getUint32(at)) {
        this.input.trace("out", decodeMessage(bytes.subarray(at + 4, at + 4 + v.getUint32(at))));
      }
    }
    return this.#conn.send(bytes);
  }

  /** Tells the peer about pieces verified since it was last told, in one write. */
  #announceHaves(): void {
    const { log, logged } = this.ours;
    if (this.#haveCursor === logged) return;
    const haves = encodeHaves(log, this.#haveCursor, logged);
    this.#haveCursor = logged;
    this.#send(haves);
  }

  #checkTimers(): void {
    const now = Date.now();
    if (now - this.#conn.lastRecv > IDLE_MS) return this.#finish("peer sent nothing for 3 minutes");
    const stall = this.upload.stall(now);
    if (stall) return this.#finish(stall);
    const pipeline = this.downloads.pipeline;
    if (pipeline.stalled(now, this.stallMs)) {
      pipeline.lastBlock = now;
      this.emit({ type: "link.stalled" });
    }
    this.#announceHaves();
    this.#reports.flush();
    this.#ext?.tick(now);
    if (now - this.#conn.lastSend > KEEPALIVE_MS) this.#send(encodeMessage({ type: "keep-alive" }));
    if (now - this.#rateMark.at >= 2000) {
      const seconds = (now - this.#rateMark.at) / 1000;
      const down = (pipeline.received - this.#rateMark.down) / seconds,
        up = (this.upload.uploaded - this.#rateMark.up) / seconds;
      this.#rateMark = { at: now, down: pipeline.received, up: this.upload.uploaded };
      if (down > 0 || up > 0 || this.#ratesShown) this.emit({ type: "link.rates", down, up });
      this.#ratesShown = down > 0 || up > 0;
    }
  }
}
