/**
 * A connection made only to fetch a magnet link's metadata: the BEP 3 handshake with the extension bits, the
 * extension handshake, then ut_metadata requests and answers. Every other message is read and ignored: without the
 * metadata we do not know the torrent's pieces yet.
 *
 * @module
 */

import { equalBytes } from "../common/bytes.ts";
import { FrameReader } from "../wire/frame_reader.ts";
import type { PeerAddress } from "../common/peer_address.ts";
import {
  decodeHandshake,
  decodeMessage,
  encodeHandshake,
  HANDSHAKE_LENGTH,
  ourReserved,
  supports,
} from "../wire/wire.ts";
import { type ExtensionEvent, PeerExtensions } from "./extensions.ts";

export interface MetadataLinkInput extends PeerAddress {
  infoHash: Uint8Array;
  peerId: Uint8Array;
  listenPort?: number;
}

export type MetadataLinkEvent = ExtensionEvent | { type: "link.closed"; reason: string };

/** Frames up to this size are read (a bitfield of 8 million pieces); larger ones end the connection. */
const MAX_FRAME = 1024 * 1024 + 16;

export class MetadataLink {
  #conn?: Deno.TcpConn;
  #closed = false;
  #ext?: PeerExtensions;
  #writes: Promise<void> = Promise.resolve();

  constructor(readonly input: MetadataLinkInput, readonly emit: (e: MetadataLinkEvent) => void) {}

  /** Connects and reads until the connection ends or `close()`; never rejects. */
  async run(): Promise<void> {
    try {
      this.#conn = await Deno.connect({ hostname: this.input.host, port: this.input.port });
      if (this.#closed) return this.#conn.close();
      this.#conn.setNoDelay(true);
      await this.#write(encodeHandshake(this.input.infoHash, this.input.peerId, ourReserved()));
      const reader = new FrameReader(MAX_FRAME);
      let bytes;
      while ((bytes = reader.take(HANDSHAKE_LENGTH)) === null) await this.#read(reader);
      const hs = decodeHandshake(bytes);
      if (!equalBytes(hs.infoHash, this.input.infoHash)) {
        throw new Error("peer answered for another infohash");
      }
      if (equalBytes(hs.peerId, this.input.peerId)) throw new Error("connected to ourselves");
      if (!supports(hs.reserved, "extended")) throw new Error("peer does not speak the extension protocol");
      this.#ext = new PeerExtensions(
        { listenPort: this.input.listenPort },
        this.input,
        (b) => void this.#write(b),
        this.emit,
      );
      await this.#write(this.#ext.handshake(250));
      while (!this.#closed) {
        let frame;
        while (!this.#closed && (frame = reader.next()) !== null) {
          const msg = decodeMessage(frame);
          if (msg.type === "extended") this.#ext.handle(msg.ext, msg.payload);
        }
        if (!this.#closed) await this.#read(reader);
      }
    } catch (e) {
      this.#finish(e instanceof Error ? e.message : String(e));
    }
  }

  /** The peer's extension handshake said it has the metadata, and its size. */
  get metadataSize(): number | undefined {
    return this.#ext?.hasMetadata ? this.#ext.peer!.metadataSize : undefined;
  }

  request(piece: number): void {
    if (!this.#closed) this.#ext?.requestMetadata(piece);
  }

  close(): void {
    this.#closed = true;
    try {
      this.#conn?.close();
    } catch { /* already closed */ }
  }

  #finish(reason: string): void {
    if (this.#closed) return;
    this.close();
    this.emit({ type: "link.closed", reason });
  }

  async #read(reader: FrameReader): Promise<void> {
    const n = await this.#conn!.read(reader.space());
    if (n === null) throw new Error("peer closed the connection");
    reader.filled(n);
  }

  /** Queues bytes for the socket, in order; resolves when they are written. */
  #write(bytes: Uint8Array): Promise<void> {
    this.#writes = this.#writes.then(async () => {
      let at = 0;
      while (at < bytes.length && !this.#closed) at += await this.#conn!.write(bytes.subarray(at));
    }).catch((e) => this.#finish(`write failed: ${(e as Error).message}`));
    return this.#writes;
  }
}
