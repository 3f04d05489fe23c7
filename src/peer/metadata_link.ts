/**
 * A connection made only to fetch a magnet link's metadata: the BEP 3 handshake with the extension bits, the
 * extension handshake, then ut_metadata requests and answers. Every other message is read and ignored: without the
 * metadata we do not know the torrent's pieces yet.
 *
 * @module
 */

import type { PeerAddress } from "../common/peer_address.ts";
import { decodeMessage, supports } from "../wire/wire.ts";
import { type EncryptionMode, PeerConnection } from "./connection.ts";
import type { Dial } from "./dial.ts";
import { type ExtensionEvent, PeerExtensions } from "./extensions.ts";

export interface MetadataLinkInput extends PeerAddress {
  infoHash: Uint8Array;
  peerId: Uint8Array;
  listenPort?: number;
  /** Message Stream Encryption for the connection (default `off`). */
  encryption?: EncryptionMode;
  /** How the peer is dialled (default TCP). */
  dial?: Dial;
}

export type MetadataLinkEvent = ExtensionEvent | { type: "link.closed"; reason: string };

/** Frames up to this size are read (a bitfield of 8 million pieces); larger ones end the connection. */
const MAX_FRAME = 1024 * 1024 + 16;

/** One connection that only fetches metadata. */
export class MetadataLink {
  readonly #conn: PeerConnection;
  #closed = false;
  #ext?: PeerExtensions;

  constructor(readonly input: MetadataLinkInput, readonly emit: (e: MetadataLinkEvent) => void) {
    this.#conn = new PeerConnection(input, MAX_FRAME, (reason) => this.#finish(reason));
  }

  /** Connects and reads until the connection ends or `close()`; never rejects. */
  async run(): Promise<void> {
    const conn = this.#conn;
    try {
      if (!await conn.connect()) return;
      const hs = await conn.handshake();
      if (!supports(hs.reserved, "extended")) throw new Error("peer does not speak the extension protocol");
      const ext = this.#ext = new PeerExtensions(
        { listenPort: this.input.listenPort },
        this.input,
        (b) => void conn.send(b),
        this.emit,
      );
      await conn.send(ext.handshake(250));
      while (!this.#closed) {
        let frame;
        while (!this.#closed && (frame = conn.reader.next()) !== null) {
          const msg = decodeMessage(frame);
          if (msg.type === "extended") ext.handle(msg.ext, msg.payload);
        }
        if (!this.#closed && !await conn.fill()) throw new Error("peer closed the connection");
      }
    } catch (e) {
      this.#finish(e instanceof Error ? e.message : String(e));
    }
  }

  /** The peer's extension handshake said it has the metadata, and its size. */
  get metadataSize(): number | undefined {
    return this.#ext?.hasMetadata ? this.#ext.peer!.metadataSize : undefined;
  }

  /** Asks the peer for metadata piece `piece`. */
  request(piece: number): void {
    if (!this.#closed) this.#ext?.requestMetadata(piece);
  }

  /** Closes the connection; the link reports nothing more. */
  close(): void {
    this.#closed = true;
    this.#conn.close();
  }

  #finish(reason: string): void {
    if (this.#closed) return;
    this.close();
    this.emit({ type: "link.closed", reason });
  }
}
