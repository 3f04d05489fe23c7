/**
 * uTP packets (BEP 29): a 20-byte header (type and version, first extension, connection id, a microsecond
 * timestamp, the delay we last measured the other way, our receive window, sequence and ack numbers), a chain of
 * extensions of which we read the selective ack (type 1), then the payload. Sequence and ack numbers are 16 bits
 * and wrap: `seqDiff` compares them.
 *
 * @module
 */

/** Packet types. */
export const ST_DATA = 0, ST_FIN = 1, ST_STATE = 2, ST_RESET = 3, ST_SYN = 4;

/** The header's size. */
export const HEADER_SIZE = 20;
const VERSION = 1;
const EXT_SELECTIVE_ACK = 1;

/** One packet, decoded (or to encode). */
export interface UtpPacket {
  type: number;
  connectionId: number;
  /** The sender's clock when it sent the packet, in microseconds (wraps at 2^32). */
  timestamp: number;
  /** The one-way delay the sender last measured from us to it, in microseconds. */
  timestampDiff: number;
  /** How many bytes the sender can still take in. */
  window: number;
  seq: number;
  ack: number;
  /** Selective ack: bit i (byte i >> 3, bit i & 7, least significant first) says ack + 2 + i arrived. */
  sack?: Uint8Array;
  payload: Uint8Array;
}

/** `a - b` on the 16-bit circle, from -32768 to 32767: positive when `a` comes after `b`. */
export function seqDiff(a: number, b: number): number {
  return ((a - b + 0x8000) & 0xffff) - 0x8000;
}

/** `n + k` on the 16-bit circle. */
export function seqAdd(n: number, k: number): number {
  return (n + k) & 0xffff;
}

/** True when the first byte could start a uTP packet (version 1, a known type); DHT packets start with `d`. */
export function looksLikeUtp(first: number): boolean {
  return (first & 0x0f) === VERSION && first >> 4 <= ST_SYN;
}

/** The packet's bytes. */
export function encodePacket(p: UtpPacket): Uint8Array {
  const sackLength = p.sack ? p.sack.length : 0;
  const extra = sackLength > 0 ? 2 + sackLength : 0;
  const out = new Uint8Array(HEADER_SIZE + extra + p.payload.length);
  const view = new DataView(out.buffer);
  out[0] = (p.type << 4) | VERSION;
  out[1] = sackLength > 0 ? EXT_SELECTIVE_ACK : 0;
  view.setUint16(2, p.connectionId);
  view.setUint32(4, p.timestamp >>> 0);
  view.setUint32(8, p.timestampDiff >>> 0);
  view.setUint32(12, p.window >>> 0);
  view.setUint16(16, p.seq);
  view.setUint16(18, p.ack);
  if (sackLength > 0) {
    out[20] = 0; // no further extension
    out[21] = sackLength;
    out.set(p.sack!, 22);
  }
  out.set(p.payload, HEADER_SIZE + extra);
  return out;
}

/**
 * Reads a packet; undefined for anything that is not one (too short, another version, unknown type, an extension
 * running past the end, an empty selective ack). The payload is a view into `bytes`.
 */
export function decodePacket(bytes: Uint8Array): UtpPacket | undefined {
  if (bytes.length < HEADER_SIZE || !looksLikeUtp(bytes[0])) return undefined;
  let sack: Uint8Array | undefined;
  let ext = bytes[1];
  let at = HEADER_SIZE;
  while (ext !== 0) {
    if (at + 2 > bytes.length) return undefined;
    const next = bytes[at];
    const length = bytes[at + 1];
    if (at + 2 + length > bytes.length) return undefined;
    if (ext === EXT_SELECTIVE_ACK) {
      // BEP 29 asks for a multiple of 4 bytes; libtorrent sends as few as it needs (1 or 2): any length will do.
      if (length === 0) return undefined;
      sack = bytes.subarray(at + 2, at + 2 + length);
    }
    at += 2 + length;
    ext = next;
  }
  return {
    type: bytes[0] >> 4,
    connectionId: u16(bytes, 2),
    timestamp: u32(bytes, 4),
    timestampDiff: u32(bytes, 8),
    window: u32(bytes, 12),
    seq: u16(bytes, 16),
    ack: u16(bytes, 18),
    sack,
    payload: bytes.subarray(at),
  };
}

// Read in place: a DataView per packet is garbage at 40,000 packets a second.
const u16 = (b: Uint8Array, at: number) => (b[at] << 8) | b[at + 1];
const u32 = (b: Uint8Array, at: number) =>
  ((b[at] << 24) | (b[at + 1] << 16) | (b[at + 2] << 8) | b[at + 3]) >>> 0;

/**
 * The selective-ack bitmask for packets received past `ack + 1`: `has(seq)` says whether a packet arrived; at most
 * `maxBytes` bytes (a multiple of 4); undefined when none past the gap arrived.
 */
export function sackMask(
  ack: number,
  has: (seq: number) => boolean,
  span: number,
  maxBytes = 32,
): Uint8Array | undefined {
  const bits = Math.min(span - 2, maxBytes * 8);
  let last = -1;
  for (let i = 0; i < bits; i++) if (has(seqAdd(ack, 2 + i))) last = i;
  if (last < 0) return undefined;
  const mask = new Uint8Array(Math.ceil((last + 1) / 32) * 4);
  for (let i = 0; i <= last; i++) if (has(seqAdd(ack, 2 + i))) mask[i >> 3] |= 1 << (i & 7);
  return mask;
}

/** The sequence numbers a selective ack says arrived. */
export function sackedSeqs(ack: number, mask: Uint8Array): number[] {
  const seqs: number[] = [];
  for (let i = 0; i < mask.length * 8; i++) if (mask[i >> 3] & (1 << (i & 7))) seqs.push(seqAdd(ack, 2 + i));
  return seqs;
}
