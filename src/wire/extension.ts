/**
 * Payloads of the extension protocol (BEP 10) and the two extensions we speak over it: ut_metadata (BEP 9, the
 * info dictionary in 16 KiB pieces, for magnet links) and ut_pex (BEP 11, peer exchange). Each travels inside an
 * `extended` wire message; these functions build and read only the payload after the extension id.
 *
 *   handshake (ext 0)  d1:md11:ut_metadatai1e6:ut_pexi2ee13:metadata_sizei31235e1:pi6881e1:v…4:reqqi…ee
 *   ut_metadata        d8:msg_typei0e5:piecei0ee                         request
 *                      d8:msg_typei1e5:piecei0e10:total_sizei31235ee<data> data
 *                      d8:msg_typei2e5:piecei0ee                         reject
 *   ut_pex             d5:added<compact>7:added.f<flags>7:dropped<compact>e (and added6/dropped6 for IPv6)
 *
 * @module
 */

import bencode from "bencode";
import { scanValue } from "../common/bencode_strict.ts";
import type { PeerAddress } from "../common/peer_address.ts";
import { decodeCompactPeers, encodeCompactPeers } from "../common/peer_address.ts";

/** The ids we ask peers to use when they send us these extensions (BEP 10 lets each side choose its own). */
export const OUR_EXTENSIONS = { ut_metadata: 1, ut_pex: 2 } as const;

/** ut_metadata's piece size. */
export const METADATA_PIECE = 16 * 1024;
/** Metadata larger than this is refused (a torrent of 8 million pieces). */
export const MAX_METADATA = 160 * 1024 * 1024;

/** What a peer's extension handshake tells us. */
export interface ExtHandshake {
  /** Extension name → the id the peer wants us to use; 0 means it dropped the extension. */
  m: Record<string, number>;
  metadataSize?: number;
  /** The peer's listen port (useful when it dialled us). */
  port?: number;
  client?: string;
  /** How many outstanding requests the peer queues. */
  reqq?: number;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function decodeDict(bytes: Uint8Array, what: string): Record<string, unknown> {
  try {
    if (bytes[0] !== 0x64 || scanValue(bytes, 0) !== bytes.length) throw new SyntaxError();
    return bencode.decode(bytes) as Record<string, unknown>;
  } catch {
    throw new SyntaxError(`${what} is not a bencoded dictionary`);
  }
}

const int = (v: unknown, max = Number.MAX_SAFE_INTEGER) =>
  typeof v === "number" && Number.isInteger(v) && v >= 0 && v <= max ? v : undefined;

export function encodeExtHandshake(h: ExtHandshake): Uint8Array {
  const dict: Record<string, unknown> = { m: h.m };
  if (h.metadataSize !== undefined) dict.metadata_size = h.metadataSize;
  if (h.port !== undefined) dict.p = h.port;
  if (h.client !== undefined) dict.v = encoder.encode(h.client);
  if (h.reqq !== undefined) dict.reqq = h.reqq;
  return bencode.encode(dict);
}

/** Reads a peer's extension handshake; fields of the wrong type are ignored, a payload that is no dict throws. */
export function decodeExtHandshake(payload: Uint8Array): ExtHandshake {
  const dict = decodeDict(payload, "extension handshake");
  const m: Record<string, number> = {};
  if (typeof dict.m === "object" && dict.m !== null && !(dict.m instanceof Uint8Array)) {
    for (const [name, id] of Object.entries(dict.m as Record<string, unknown>)) {
      const n = int(id, 255);
      if (n !== undefined) m[name] = n;
    }
  }
  return {
    m,
    metadataSize: int(dict.metadata_size),
    port: int(dict.p, 65535) || undefined,
    client: dict.v instanceof Uint8Array ? decoder.decode(dict.v) : undefined,
    reqq: int(dict.reqq) || undefined,
  };
}

/** A ut_metadata message. */
export type MetadataMessage =
  | { kind: "request"; piece: number }
  | { kind: "data"; piece: number; totalSize: number; data: Uint8Array }
  | { kind: "reject"; piece: number };

const KINDS = ["request", "data", "reject"] as const;

export function encodeMetadataMessage(msg: MetadataMessage): Uint8Array {
  const head = bencode.encode({
    msg_type: KINDS.indexOf(msg.kind),
    piece: msg.piece,
    ...(msg.kind === "data" ? { total_size: msg.totalSize } : {}),
  });
  if (msg.kind !== "data") return head;
  const out = new Uint8Array(head.length + msg.data.length);
  out.set(head);
  out.set(msg.data, head.length);
  return out;
}

/** Reads a ut_metadata message; throws SyntaxError on a malformed one. `data` is a view: copy it to keep it. */
export function decodeMetadataMessage(payload: Uint8Array): MetadataMessage {
  let end: number;
  try {
    end = payload[0] === 0x64 ? scanValue(payload, 0) : -1;
  } catch {
    end = -1;
  }
  if (end < 0) throw new SyntaxError("ut_metadata message is not a bencoded dictionary");
  const dict = decodeDict(payload.subarray(0, end), "ut_metadata message");
  const kind = KINDS[int(dict.msg_type, 2) ?? 3];
  const piece = int(dict.piece);
  if (!kind || piece === undefined) throw new SyntaxError("ut_metadata message without msg_type or piece");
  if (kind !== "data") return { kind, piece };
  const totalSize = int(dict.total_size);
  if (totalSize === undefined) throw new SyntaxError("ut_metadata data without total_size");
  return { kind, piece, totalSize, data: payload.subarray(end) };
}

/** How many ut_metadata pieces metadata of `size` bytes has. */
export function metadataPieces(size: number): number {
  return Math.ceil(size / METADATA_PIECE);
}

/** The bytes of metadata piece `piece` that a `data` message must carry. */
export function metadataPieceLength(size: number, piece: number): number {
  return Math.min(METADATA_PIECE, size - piece * METADATA_PIECE);
}

/** BEP 11 asks for at most this many added (and dropped) peers in one message. */
export const PEX_MAX = 50;

/** A peer told of in a ut_pex message. */
export interface PexPeer extends PeerAddress {
  /** It has every piece (flag 0x02): a seed learning of it need not dial it. */
  seed?: boolean;
}

/** A ut_pex message: peers the sender connected to and left since its last message. */
export interface PexMessage {
  added: PexPeer[];
  dropped: PeerAddress[];
}

/** Each added peer's flags byte, in the order `encodeCompactPeers` writes them for the family. */
function pexFlags(added: PexPeer[], ipv6: boolean): Uint8Array {
  return Uint8Array.from(added.filter((p) => p.host.includes(":") === ipv6), (p) => p.seed ? 0x02 : 0);
}

export function encodePex(msg: PexMessage): Uint8Array {
  const added = msg.added.slice(0, PEX_MAX), dropped = msg.dropped.slice(0, PEX_MAX);
  return bencode.encode({
    added: encodeCompactPeers(added, false),
    "added.f": pexFlags(added, false),
    added6: encodeCompactPeers(added, true),
    "added6.f": pexFlags(added, true),
    dropped: encodeCompactPeers(dropped, false),
    dropped6: encodeCompactPeers(dropped, true),
  });
}

/** Reads a ut_pex message; more than `PEX_MAX` added or dropped peers are cut to the limit. */
export function decodePex(payload: Uint8Array): PexMessage {
  const dict = decodeDict(payload, "ut_pex message");
  const bytes = (key: string) => dict[key] instanceof Uint8Array ? dict[key] as Uint8Array : undefined;
  const peers = (key: string, ipv6: boolean, keepPortZero = false) => {
    const compact = bytes(key);
    return compact ? decodeCompactPeers(compact, ipv6, keepPortZero) : [];
  };
  const flagged = (key: string, ipv6: boolean): PexPeer[] => {
    const flags = bytes(`${key}.f`);
    // Entries with port 0 are dropped only here, so each flag is matched to its entry by position.
    return peers(key, ipv6, true).flatMap((p, i) =>
      p.port === 0 ? [] : [flags && flags[i] & 0x02 ? { ...p, seed: true } : p]
    );
  };
  return {
    added: [...flagged("added", false), ...flagged("added6", true)].slice(0, PEX_MAX),
    dropped: [...peers("dropped", false), ...peers("dropped6", true)].slice(0, PEX_MAX),
  };
}
