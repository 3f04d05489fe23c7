/**
 * A peer link's side of the peer actor: what the link is given, the events it tells its peer machine, and the
 * commands it obeys. The machine (`actors/peer.ts`) and the link (`link.ts`) meet here.
 *
 * @module
 */

import type { Bitfield } from "../common/bitfield.ts";
import type { LocalPieces } from "../pieces/local_pieces.ts";
import type { PieceWriter } from "../pieces/piece_writers.ts";
import type { WholePiece } from "../pieces/scheduler.ts";
import type { Message } from "../wire/wire.ts";
import type { ByteStream } from "../common/byte_stream.ts";
import type { EncryptionMode, Transport } from "./connection.ts";
import type { Dial } from "./dial.ts";
import type { ExtensionEvent, ExtensionInput } from "./extensions.ts";

/** What a link needs to know. */
export interface LinkInput extends ExtensionInput {
  host: string;
  port: number;
  infoHash: Uint8Array;
  peerId: Uint8Array;
  pieceLength: number;
  pieceCount: number;
  totalLength: number;
  /** The deepest the request pipeline may get (default `maxDepthFor` the piece length: 1,024 blocks at most); its depth follows the link's rate and round trip. */
  maxRequests?: number;
  /** A peer with requests outstanding that sends no block for this long is reported stalled. */
  stallMs?: number;
  /** An accepted connection (the peer dialled us): the link reads its handshake first, then answers. */
  conn?: ByteStream;
  /** How the peer is dialled (default TCP). */
  dial?: Dial;
  /** What we have and serve; absent for a link that only downloads. */
  ours?: LocalPieces;
  readBlock?: (offset: number, length: number) => Promise<Uint8Array>;
  /** Reads into an upload's frame buffer, when the storage can. */
  readInto?: (offset: number, into: Uint8Array) => void;
  /** Where large pieces are written as their blocks arrive (see `PieceWriters`); without it all are assembled. */
  writer?: PieceWriter;
  /** Our DHT node's UDP port: the handshake says we run one, and a peer that runs one too is told the port. */
  dhtPort?: number;
  /** Message Stream Encryption (default `off`). */
  encryption?: EncryptionMode;
  /** Sees every message after the handshake, each way (for debugging; outgoing frames are decoded again). */
  trace?: (direction: "in" | "out", msg: Message) => void;
}

/** Events a link sends to its peer machine. */
export type LinkEvent =
  | { type: "link.connected" }
  /** The handshakes are done; `transport` says how the bytes travel (plaintext, RC4, or obfuscated). */
  | { type: "link.handshaken"; peerId: string; client: string; transport: Transport; via: "tcp" | "utp" }
  | { type: "link.bitfield"; bitfield: Bitfield }
  | { type: "link.haves"; indices: number[] }
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
  /** The peer runs a DHT node on this UDP port (its `port` message). */
  | { type: "link.dht-port"; port: number }
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
