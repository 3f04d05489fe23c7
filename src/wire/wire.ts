/**
 * The peer wire protocol of BEP 3: the handshake and every message, as a discriminated union with an encoder and a
 * decoder. Each message's layout is written beside its case (`<len=0013><id=6><index><begin><length>`).
 *
 * @module
 */

/** A decoded peer wire message. `block` of a `piece` is a view into the receive buffer: copy it before reuse. */
export type Message =
  | { type: "keep-alive" } //       <len=0000>
  | { type: "choke" } //            <len=0001><id=0>
  | { type: "unchoke" } //          <len=0001><id=1>
  | { type: "interested" } //       <len=0001><id=2>
  | { type: "not-interested" } //   <len=0001><id=3>
  | { type: "have"; index: number } // <len=0005><id=4><index>
  | { type: "bitfield"; bits: Uint8Array } // <len=0001+X><id=5><bitfield>
  | { type: "request"; index: number; begin: number; length: number } // <len=0013><id=6><index><begin><length>
  | { type: "piece"; index: number; begin: number; block: Uint8Array } // <len=0009+X><id=7><index><begin><block>
  | { type: "cancel"; index: number; begin: number; length: number } // <len=0013><id=8><index><begin><length>
  | { type: "port"; port: number } // <len=0003><id=9><listen-port>
  // The fast extension (BEP 6), once both handshakes set reserved bit 0x04 of byte 7:
  | { type: "suggest"; index: number } // <len=0005><id=13><index>
  | { type: "have-all" } //         <len=0001><id=14>
  | { type: "have-none" } //        <len=0001><id=15>
  | { type: "reject"; index: number; begin: number; length: number } // <len=0013><id=16><index><begin><length>
  | { type: "allowed-fast"; index: number } // <len=0005><id=17><index>
  // The extension protocol (BEP 10), once both handshakes set reserved bit 0x10 of byte 5:
  | { type: "extended"; ext: number; payload: Uint8Array } // <len=0002+X><id=20><ext id><payload>
  | { type: "unknown"; id: number; payload: Uint8Array }; // any other id (extensions we do not speak)

/** The message ids of BEP 3, 6 and 10, by message type. */
export const IDS = {
  "choke": 0,
  "unchoke": 1,
  "interested": 2,
  "not-interested": 3,
  "have": 4,
  "bitfield": 5,
  "request": 6,
  "piece": 7,
  "cancel": 8,
  "port": 9,
  "suggest": 13,
  "have-all": 14,
  "have-none": 15,
  "reject": 16,
  "allowed-fast": 17,
  "extended": 20,
} as const;

const NAMES: Record<number, keyof typeof IDS> = Object.fromEntries(
  Object.entries(IDS).map(([name, id]) => [id, name as keyof typeof IDS]),
);

/** Reserved handshake bits: byte 5 & 0x10 is the extension protocol (BEP 10), byte 7 & 0x04 the fast extension. */
export const RESERVED = {
  extended: { byte: 5, bit: 0x10 },
  fast: { byte: 7, bit: 0x04 },
  /** BEP 5: we run a DHT node, and say on which UDP port with the `port` message. */
  dht: { byte: 7, bit: 0x01 },
} as const;

/** Our reserved bytes: we speak both extensions, and say we run a DHT node when `dht`. */
export function ourReserved(dht = false): Uint8Array {
  const reserved = new Uint8Array(8);
  reserved[RESERVED.extended.byte] |= RESERVED.extended.bit;
  reserved[RESERVED.fast.byte] |= RESERVED.fast.bit;
  if (dht) reserved[RESERVED.dht.byte] |= RESERVED.dht.bit;
  return reserved;
}

/** Whether a peer's reserved bytes announce `feature`. */
export function supports(reserved: Uint8Array, feature: keyof typeof RESERVED): boolean {
  return (reserved[RESERVED[feature].byte] & RESERVED[feature].bit) !== 0;
}

/** The 19-byte protocol string that opens every handshake. */
export const PROTOCOL = new TextEncoder().encode("BitTorrent protocol");
/** Length of a BEP 3 handshake. */
export const HANDSHAKE_LENGTH = 68;

/** A peer's handshake: `<pstrlen=19><pstr><reserved:8><info_hash:20><peer_id:20>`. */
export interface Handshake {
  /** The 8 reserved bytes: extension bits (BEP 10, fast extension, DHT). */
  reserved: Uint8Array;
  /** The torrent the peer wants to talk about. */
  infoHash: Uint8Array;
  /** The peer's 20-byte id. */
  peerId: Uint8Array;
}

/** Encodes our handshake. */
export function encodeHandshake(
  infoHash: Uint8Array,
  peerId: Uint8Array,
  reserved: Uint8Array = new Uint8Array(8),
): Uint8Array {
  const out = new Uint8Array(HANDSHAKE_LENGTH);
  out[0] = PROTOCOL.length;
  out.set(PROTOCOL, 1);
  out.set(reserved, 20);
  out.set(infoHash, 28);
  out.set(peerId, 48);
  return out;
}

/** Decodes a 68-byte handshake; throws SyntaxError when it is not the BitTorrent protocol. */
export function decodeHandshake(bytes: Uint8Array): Handshake {
  if (bytes.length !== HANDSHAKE_LENGTH) throw new SyntaxError(`handshake of ${bytes.length} bytes`);
  if (bytes[0] !== PROTOCOL.length || PROTOCOL.some((b, i) => bytes[1 + i] !== b)) {
    throw new SyntaxError("peer does not speak the BitTorrent protocol");
  }
  return { reserved: bytes.slice(20, 28), infoHash: bytes.slice(28, 48), peerId: bytes.slice(48, 68) };
}

function expectLength(payload: Uint8Array, length: number, name: string): DataView {
  if (payload.length !== length) {
    throw new RangeError(`${name} message with payload of ${payload.length} bytes (expected ${length})`);
  }
  return new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
}

/**
 * Decodes one frame's payload (the bytes after the 4-byte length prefix; empty for a keep-alive). Throws
 * RangeError when a known message has the wrong length.
 */
export function decodeMessage(payload: Uint8Array): Message {
  if (payload.length === 0) return { type: "keep-alive" };
  const id = payload[0];
  const type = NAMES[id];
  switch (type) {
    case "choke":
    case "unchoke":
    case "interested":
    case "not-interested":
    case "have-all":
    case "have-none":
      expectLength(payload, 1, type);
      return { type };
    case "have":
    case "suggest":
    case "allowed-fast":
      return { type, index: expectLength(payload, 5, type).getUint32(1) };
    case "bitfield":
      return { type, bits: payload.subarray(1) };
    case "request":
    case "cancel":
    case "reject": {
      const v = expectLength(payload, 13, type);
      return { type, index: v.getUint32(1), begin: v.getUint32(5), length: v.getUint32(9) };
    }
    case "piece": {
      if (payload.length < 9) throw new RangeError(`piece message with payload of ${payload.length} bytes`);
      const v = new DataView(payload.buffer, payload.byteOffset, 9);
      return { type, index: v.getUint32(1), begin: v.getUint32(5), block: payload.subarray(9) };
    }
    case "port":
      return { type, port: expectLength(payload, 3, type).getUint16(1) };
    case "extended":
      if (payload.length < 2) throw new RangeError("extended message without an extension id");
      return { type, ext: payload[1], payload: payload.subarray(2) };
    default:
      return { type: "unknown", id, payload: payload.subarray(1) };
  }
}

/** Encodes a message with its 4-byte length prefix. */
export function encodeMessage(msg: Message): Uint8Array {
  if (msg.type === "keep-alive") return new Uint8Array(4);
  let body: Uint8Array;
  switch (msg.type) {
    case "have":
    case "suggest":
    case "allowed-fast":
      body = new Uint8Array(5);
      new DataView(body.buffer).setUint32(1, msg.index);
      break;
    case "bitfield":
      body = new Uint8Array(1 + msg.bits.length);
      body.set(msg.bits, 1);
      break;
    case "request":
    case "cancel":
    case "reject":
      body = new Uint8Array(13);
      writeRequestBody(new DataView(body.buffer), 0, msg.index, msg.begin, msg.length);
      break;
    case "piece": {
      body = new Uint8Array(9 + msg.block.length);
      const v = new DataView(body.buffer);
      v.setUint32(1, msg.index);
      v.setUint32(5, msg.begin);
      body.set(msg.block, 9);
      break;
    }
    case "port":
      body = new Uint8Array(3);
      new DataView(body.buffer).setUint16(1, msg.port);
      break;
    case "extended":
      body = new Uint8Array(2 + msg.payload.length);
      body[1] = msg.ext;
      body.set(msg.payload, 2);
      break;
    case "unknown":
      body = new Uint8Array(1 + msg.payload.length);
      body.set(msg.payload, 1);
      break;
    default:
      body = new Uint8Array(1);
  }
  body[0] = msg.type === "unknown" ? msg.id : IDS[msg.type];
  const out = new Uint8Array(4 + body.length);
  new DataView(out.buffer).setUint32(0, body.length);
  out.set(body, 4);
  return out;
}

function writeRequestBody(v: DataView, at: number, index: number, begin: number, length: number): void {
  v.setUint32(at + 1, index);
  v.setUint32(at + 5, begin);
  v.setUint32(at + 9, length);
}

/** `have` frames for `indices[from..]`, one after another in one buffer: a batch for one socket write. */
export function encodeHaves(indices: ArrayLike<number>, from = 0, to = indices.length): Uint8Array {
  const out = new Uint8Array((to - from) * 9);
  const v = new DataView(out.buffer);
  for (let i = from, at = 0; i < to; i++, at += 9) {
    v.setUint32(at, 5);
    v.setUint8(at + 4, IDS.have);
    v.setUint32(at + 5, indices[i]);
  }
  return out;
}

/** True when a frame's payload is a well-formed `request`: the upload path reads its numbers with `readU32`. */
export function isRequest(payload: Uint8Array): boolean {
  return payload.length === 13 && payload[0] === IDS.request;
}

/** The big-endian unsigned 32-bit number at `at`. */
export function readU32(b: Uint8Array, at: number): number {
  return b[at] * 0x1000000 + ((b[at + 1] << 16) | (b[at + 2] << 8) | b[at + 3]);
}

/** Size of one encoded `request` message, for batching many into a single socket write. */
export const REQUEST_FRAME_LENGTH = 17;

/** Writes a `request` frame (prefix included) at `at` in `v`: lets a sender batch requests in one buffer. */
export function writeRequest(v: DataView, at: number, index: number, begin: number, length: number): void {
  v.setUint32(at, 13);
  v.setUint8(at + 4, IDS.request);
  writeRequestBody(v, at + 4, index, begin, length);
}
