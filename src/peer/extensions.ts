/**
 * The extension half of a peer link (BEP 10): our extension handshake, the peer's, serving our metadata over
 * ut_metadata (BEP 9), passing on metadata pieces the peer sends, and peer exchange (BEP 11) both ways. No socket
 * here: it is handed the payloads of `extended` messages and a function that sends frames.
 *
 * @module
 */

import { addressKey } from "../swarm/address_book.ts";
import {
  decodeExtHandshake,
  decodeMetadataMessage,
  decodePex,
  encodeExtHandshake,
  encodeMetadataMessage,
  encodePex,
  type ExtHandshake,
  METADATA_PIECE,
  metadataPieces,
  OUR_EXTENSIONS,
  PEX_MAX,
  type PexPeer,
} from "../wire/extension.ts";
import type { PeerAddress } from "../common/peer_address.ts";
import { encodeMessage } from "../wire/wire.ts";

export interface ExtensionInput {
  /** The raw info dictionary, served to peers that ask; absent while we fetch it ourselves. */
  metadata?: Uint8Array;
  /** A private torrent (BEP 27): no peer exchange. */
  private?: boolean;
  /** Our listen port, told to peers that we dial (they learn it for PEX). */
  listenPort?: number;
  /** The peers we are connected to now, with their listen addresses: what PEX tells. */
  pexPeers?: () => readonly PexPeer[];
  /** How often PEX may tell a peer about changes (BEP 11: at most once a minute). */
  pexIntervalMs?: number;
}

export type ExtensionEvent =
  /** The peer's extension handshake: its client, its listen port and the size of its metadata. */
  | { type: "link.extended"; client?: string; port?: number; metadataSize?: number }
  /** Peers this peer told us about. */
  | { type: "link.pex"; peers: PexPeer[] }
  | { type: "link.metadata"; piece: number; totalSize: number; data: Uint8Array }
  | { type: "link.metadata-rejected"; piece: number };

/** The client name we put in our extension handshake. */
export const CLIENT_NAME = "AX 0.1";

export class PeerExtensions {
  /** The peer's extension handshake, once it came. */
  peer?: ExtHandshake;
  #told = new Map<string, PeerAddress>();
  #lastPex = -Infinity;
  /** The list of connected peers PEX last looked at (the swarm hands out the same array until it changes). */
  #lastSeen?: readonly PeerAddress[];

  constructor(
    readonly input: ExtensionInput,
    /** The peer's own address, never told back to it. */
    readonly remote: PeerAddress,
    readonly send: (bytes: Uint8Array) => void,
    readonly emit: (e: ExtensionEvent) => void,
  ) {}

  /** Our extension handshake frame. */
  handshake(reqq: number): Uint8Array {
    const m: Record<string, number> = { ut_metadata: OUR_EXTENSIONS.ut_metadata };
    if (!this.input.private) m.ut_pex = OUR_EXTENSIONS.ut_pex;
    const payload = encodeExtHandshake({
      m,
      metadataSize: this.input.metadata?.length,
      port: this.input.listenPort,
      client: CLIENT_NAME,
      reqq,
    });
    return encodeMessage({ type: "extended", ext: 0, payload });
  }

  /** Handles one `extended` message; throws on a malformed payload (the link then drops the peer). */
  handle(ext: number, payload: Uint8Array): void {
    if (ext === 0) {
      const first = this.peer === undefined;
      const h = decodeExtHandshake(payload);
      // A later handshake updates only what it names; an extension id of 0 turns that extension off (BEP 10).
      const m = { ...this.peer?.m, ...h.m };
      for (const [name, id] of Object.entries(m)) if (id === 0) delete m[name];
      this.peer = {
        m,
        metadataSize: h.metadataSize ?? this.peer?.metadataSize,
        port: h.port ?? this.peer?.port,
        client: h.client ?? this.peer?.client,
        reqq: h.reqq ?? this.peer?.reqq,
      };
      if (first) {
        this.emit({
          type: "link.extended",
          client: this.peer.client,
          port: this.peer.port,
          metadataSize: this.peer.metadataSize,
        });
      }
    } else if (ext === OUR_EXTENSIONS.ut_metadata) {
      this.#metadata(payload);
    } else if (ext === OUR_EXTENSIONS.ut_pex && !this.input.private) {
      const { added } = decodePex(payload);
      if (added.length > 0) this.emit({ type: "link.pex", peers: added });
    }
  }

  /** True when the peer can send us metadata. */
  get hasMetadata(): boolean {
    return (this.peer?.m.ut_metadata ?? 0) > 0 && (this.peer?.metadataSize ?? 0) > 0;
  }

  /** Asks the peer for metadata piece `piece`. */
  requestMetadata(piece: number): void {
    const id = this.peer?.m.ut_metadata;
    if (!id) return;
    this.send(
      encodeMessage({
        type: "extended",
        ext: id,
        payload: encodeMetadataMessage({ kind: "request", piece }),
      }),
    );
  }

  #metadata(payload: Uint8Array): void {
    const msg = decodeMetadataMessage(payload);
    if (msg.kind === "data") {
      return this.emit({
        type: "link.metadata",
        piece: msg.piece,
        totalSize: msg.totalSize,
        data: msg.data.slice(),
      });
    }
    if (msg.kind === "reject") return this.emit({ type: "link.metadata-rejected", piece: msg.piece });
    const id = this.peer?.m.ut_metadata;
    if (!id) return; // it asks but never said where answers go
    const metadata = this.input.metadata;
    const answer = metadata && msg.piece < metadataPieces(metadata.length)
      ? {
        kind: "data" as const,
        piece: msg.piece,
        totalSize: metadata.length,
        data: metadata.subarray(msg.piece * METADATA_PIECE, (msg.piece + 1) * METADATA_PIECE),
      }
      : { kind: "reject" as const, piece: msg.piece };
    this.send(encodeMessage({ type: "extended", ext: id, payload: encodeMetadataMessage(answer) }));
  }

  /** Once a second: tells the peer which peers we connected to and left since the last time, when due. */
  tick(now: number): void {
    const id = this.peer?.m.ut_pex;
    if (!id || this.input.private || !this.input.pexPeers) return;
    if (now - this.#lastPex < (this.input.pexIntervalMs ?? 60_000)) return;
    const peers = this.input.pexPeers();
    if (peers === this.#lastSeen) return; // the same list as last time, all told: nothing new to tell
    const current = new Map<string, PexPeer>();
    const self = addressKey(this.remote);
    for (const p of peers) {
      const key = addressKey(p);
      if (key !== self && !(p.host === this.remote.host && p.port === this.peer?.port)) current.set(key, p);
    }
    const allAdded = [...current].filter(([k]) => !this.#told.has(k));
    const allDropped = [...this.#told].filter(([k]) => !current.has(k));
    // Only a list told in full is remembered: what did not fit in this message goes in the next.
    if (allAdded.length <= PEX_MAX && allDropped.length <= PEX_MAX) this.#lastSeen = peers;
    const added = allAdded.slice(0, PEX_MAX), dropped = allDropped.slice(0, PEX_MAX);
    if (added.length === 0 && dropped.length === 0) return;
    this.#lastPex = now;
    for (const [k, p] of added) this.#told.set(k, p);
    for (const [k] of dropped) this.#told.delete(k);
    const payload = encodePex({ added: added.map(([, p]) => p), dropped: dropped.map(([, p]) => p) });
    this.send(encodeMessage({ type: "extended", ext: id, payload }));
  }
}
