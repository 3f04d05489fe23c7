/**
 * One connection to a peer, below any protocol above the handshake: dial (or take a connection the peer opened),
 * exchange BEP 3 handshakes, read into one preallocated frame buffer, and write through a queue whose promises
 * give back-pressure. The download link and the metadata link both run on it. The bytes go over a `ByteStream`,
 * so another transport or an encryption layer can slide under it without the links knowing.
 *
 * @module
 */

import type { ByteStream } from "../common/byte_stream.ts";
import { isPlainHandshake, mseAccept, mseInitiate, PLAINTEXT, RC4 } from "../crypto/mse.ts";
import { CipherStream, HandshakeReader } from "../crypto/streams.ts";
import { concat, equalBytes } from "../common/bytes.ts";
import { FrameReader } from "../wire/frame_reader.ts";
import { dialTcp } from "./dial.ts";
import {
  decodeHandshake,
  encodeHandshake,
  type Handshake,
  HANDSHAKE_LENGTH,
  ourReserved,
} from "../wire/wire.ts";

export type { ByteStream };

/**
 * Message Stream Encryption (MSE/PE) for a connection: `prefer` tries it first when we dial and falls back to
 * plaintext, and takes either when the peer dials; `require` never lets a byte of the BitTorrent protocol pass
 * in plaintext; `off` speaks plaintext only and refuses encrypted handshakes.
 */
export type EncryptionMode = "prefer" | "require" | "off";

/** How a connection's bytes travel: plaintext, RC4, or plaintext after an encrypted handshake. */
export type Transport = "plain" | "rc4" | "obfuscated";

/** Whom to connect to, for which torrent, as whom. */
export interface ConnectionInput {
  host: string;
  port: number;
  infoHash: Uint8Array;
  peerId: Uint8Array;
  /** A connection the peer opened (it dialled us): its handshake is read first, then ours is sent. */
  conn?: ByteStream;
  /** Opens the stream when we dial (default: TCP with Nagle off). */
  dial?: (host: string, port: number) => Promise<ByteStream>;
  /** Message Stream Encryption (default `off`; the client's default is `prefer`). */
  encryption?: EncryptionMode;
  /** With `prefer`, how long an outgoing encrypted handshake may take before we dial again in plaintext (5 s). */
  encryptionTimeoutMs?: number;
}

/** A peer connection: its stream, its receive buffer and its write queue. */
export class PeerConnection {
  /** Frames as they arrive; `fill()` reads more into it. */
  readonly reader: FrameReader;
  /** When bytes last came in, and went out (for idle and keep-alive timers). */
  lastRecv: number = Date.now();
  lastSend: number = Date.now();
  #stream?: ByteStream;
  #closed = false;
  /** How the bytes travel, once the handshake is done. */
  transport: Transport = "plain";
  /** What carries the bytes: TCP, or uTP. */
  via: "tcp" | "utp" = "tcp";
  #writes: Promise<void> = Promise.resolve();

  /**
   * `maxFrame`: the largest frame the reader holds. `onWriteError` hears a failed write once, with its reason; the
   * connection is closed by then.
   */
  constructor(
    readonly input: ConnectionInput,
    maxFrame: number,
    readonly onWriteError: (reason: string) => void,
  ) {
    // A peer that dialled us starts with a small buffer: a flood of silent connections must cost little.
    this.reader = new FrameReader(maxFrame, input.conn !== undefined);
  }

  /** The connection was closed (by us, or after a failed write). */
  get closed(): boolean {
    return this.#closed;
  }

  /** The peer dialled us. */
  get incoming(): boolean {
    return this.input.conn !== undefined;
  }

  /** Dials (or takes the accepted stream); false when `close()` came first. Throws when the peer cannot be reached. */
  async connect(): Promise<boolean> {
    const stream = this.input.conn ?? await this.#dial();
    this.#stream = stream;
    this.via = stream.via ?? "tcp";
    if (this.#closed) stream.close();
    return !this.#closed;
  }

  async #dial(): Promise<ByteStream> {
    const stream = await (this.input.dial ?? dialTcp)(this.input.host, this.input.port);
    (stream as Partial<Deno.TcpConn>).setNoDelay?.(true); // requests and haves are small: send them at once
    return stream;
  }

  /** Our encrypted handshake when we dial; false when the peer does not speak MSE and we dialled again plain. */
  async #encryptOutgoing(ours: Uint8Array): Promise<boolean> {
    const mode = this.input.encryption!;
    const raw = this.#stream!;
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      const ms = this.input.encryptionTimeoutMs ?? 5000;
      const result = await Promise.race([
        mseInitiate(raw, this.input.infoHash, mode === "require" ? RC4 : RC4 | PLAINTEXT, ours),
        new Promise<never>((_, reject) =>
          timer = setTimeout(() => reject(new Error(`no answer in ${ms / 1000} s`)), ms)
        ),
      ]);
      this.#stream = result.stream;
      this.transport = result.transport;
      return true;
    } catch (e) {
      if (mode === "require" || this.#closed) {
        throw new Error(`encryption handshake failed: ${(e as Error).message}`);
      }
      raw.close(); // the peer may not speak MSE: dial again, in plaintext
      this.#stream = await this.#dial();
      if (this.#closed) this.#stream.close();
      return false;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Tells a peer's plaintext handshake from an encrypted one by its first 20 bytes, and answers as allowed. */
  async #acceptIncoming(): Promise<void> {
    const mode = this.input.encryption ?? "off";
    const raw = this.#stream!;
    const reader = new HandshakeReader(raw);
    const head = await reader.take(20).catch(() => {
      throw new Error("peer closed the connection during the handshake");
    });
    const first = concat([head, reader.rest()]); // what was read past the 20 bytes goes on too
    if (isPlainHandshake(first)) {
      if (mode === "require") throw new Error("peer sent a plaintext handshake and encryption is required");
      this.#stream = new CipherStream(raw, null, null, first);
      return;
    }
    if (mode === "off") throw new Error("peer sent an encrypted handshake and encryption is off");
    const result = await mseAccept(raw, first, {
      infoHashes: [this.input.infoHash],
      allow: mode === "require" ? RC4 : RC4 | PLAINTEXT,
    });
    this.#stream = result.stream;
    this.transport = result.transport;
  }

  /**
   * Exchanges handshakes (ours first when we dialled, after theirs when they did) with `reserved` as our extension
   * bits. Throws when the peer closes first, answers for another torrent, or is ourselves.
   */
  async handshake(reserved: Uint8Array = ourReserved()): Promise<Handshake> {
    const ours = encodeHandshake(this.input.infoHash, this.input.peerId, reserved);
    const encrypt = (this.input.encryption ?? "off") !== "off";
    if (this.incoming) await this.#acceptIncoming();
    // Dialling with encryption, our handshake goes inside the encrypted one.
    else if (!encrypt || !await this.#encryptOutgoing(ours)) this.send(ours);
    let bytes;
    while ((bytes = this.reader.take(HANDSHAKE_LENGTH)) === null) {
      if (!await this.fill()) throw new Error("peer closed the connection during the handshake");
    }
    const hs = decodeHandshake(bytes);
    if (!equalBytes(hs.infoHash, this.input.infoHash)) throw new Error("peer answered for another infohash");
    if (equalBytes(hs.peerId, this.input.peerId)) throw new Error("connected to ourselves");
    if (this.incoming) this.send(ours);
    return hs;
  }

  /** Reads once into the frame buffer; false when the peer closed the connection. */
  async fill(): Promise<boolean> {
    const n = await this.#stream!.read(this.reader.space());
    if (n === null) return false;
    this.reader.filled(n);
    this.lastRecv = Date.now();
    return true;
  }

  /** Queues bytes for the stream, in order; resolves when they are written (a sender that waits is held back). */
  send(bytes: Uint8Array): Promise<void> {
    this.lastSend = Date.now();
    this.#writes = this.#writes.then(async () => {
      let at = 0;
      while (at < bytes.length && !this.#closed) at += await this.#stream!.write(bytes.subarray(at));
    }).catch((e) => {
      if (this.#closed) return;
      this.close();
      this.onWriteError(`write failed: ${(e as Error).message}`);
    });
    return this.#writes;
  }

  /** Gives the receive buffer back for another connection: call it once no read is pending any more. */
  release(): void {
    this.reader.release();
  }

  /** Closes the stream; reads end and queued writes are dropped. */
  close(): void {
    this.#closed = true;
    try {
      this.#stream?.close();
    } catch { /* already closed */ }
  }
}
