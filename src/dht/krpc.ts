/**
 * KRPC, the Mainline DHT's messages (BEP 5, with the IPv6 `nodes6` of BEP 32): bencoded dictionaries over UDP.
 *
 *   query     {t: <transaction id>, y: "q", q: <method>, a: {id: <20 bytes>, ...arguments}}
 *   response  {t, y: "r", r: {id: <20 bytes>, nodes?: <26 bytes a node>, nodes6?: <38 bytes a node>,
 *              values?: [<6 or 18 bytes a peer>], token?: <bytes>}}
 *   error     {t, y: "e", e: [<code>, <message>]}
 *
 * Decoding is strict and bounded: a packet over `MAX_PACKET` bytes, nested deeper than a KRPC message can be,
 * with a field of the wrong type or length, or with truncated `nodes` or `values` is refused with a
 * `SyntaxError`; the node drops it and counts it. Nothing a remote sends makes this allocate more than the
 * packet's size.
 *
 * @module
 */

import bencode from "bencode";
import { decodeCompactPeers, encodeCompactPeers, type PeerAddress } from "../common/peer_address.ts";

/** The largest datagram decoded; real KRPC packets are under 1,500 bytes. */
export const MAX_PACKET = 4096;
/** Bytes of a node id (and of an infohash). */
export const ID_LENGTH = 20;

/** A DHT node: its id and where it listens. */
export interface NodeInfo extends PeerAddress {
  /** Its 20-byte node id. */
  id: Uint8Array;
}

/** The four queries of BEP 5, and any other by its name (answered with error 204). */
export type Query =
  | { method: "ping"; id: Uint8Array }
  | { method: "find_node"; id: Uint8Array; target: Uint8Array }
  | { method: "get_peers"; id: Uint8Array; infoHash: Uint8Array }
  | {
    method: "announce_peer";
    id: Uint8Array;
    infoHash: Uint8Array;
    port: number;
    token: Uint8Array;
    /** The peer's port is the one the packet came from (uTP peers behind NAT). */
    impliedPort: boolean;
  }
  | { method: "unknown"; id: Uint8Array; name: string };

/** A response's fields; which are present depends on the query it answers. */
export interface Response {
  id: Uint8Array;
  nodes?: NodeInfo[];
  nodes6?: NodeInfo[];
  values?: PeerAddress[];
  token?: Uint8Array;
}

/** A KRPC message. */
export type Message =
  | { y: "q"; t: Uint8Array; q: Query }
  | { y: "r"; t: Uint8Array; r: Response }
  | { y: "e"; t: Uint8Array; code: number; message: string };

/** KRPC error codes. */
export const ERRORS = { generic: 201, server: 202, protocol: 203, method: 204 } as const;

// ---------------------------------------------------------------------------------------------------------------
// A bencode reader just large enough for KRPC: bounded depth, byte strings stay bytes, keys are text.

type Value = number | Uint8Array | Value[] | { [key: string]: Value };
const MAX_DEPTH = 4;
const latin1 = new TextDecoder("latin1");

function fail(why: string): never {
  throw new SyntaxError(`bad KRPC packet: ${why}`);
}

function read(buf: Uint8Array, pos: { at: number }, depth: number): Value {
  if (depth > MAX_DEPTH) fail("nested too deep");
  const b = buf[pos.at];
  if (b === 0x69) { // i<digits>e
    const end = buf.indexOf(0x65, pos.at);
    if (end < 0 || end - pos.at > 21) fail("bad integer");
    const text = latin1.decode(buf.subarray(pos.at + 1, end));
    if (!/^(0|-?[1-9][0-9]*)$/.test(text)) fail("bad integer");
    pos.at = end + 1;
    return Number(text);
  }
  if (b >= 0x30 && b <= 0x39) { // <length>:<bytes>
    const colon = buf.indexOf(0x3a, pos.at);
    if (colon < 0 || colon - pos.at > 5) fail("bad string length");
    const text = latin1.decode(buf.subarray(pos.at, colon));
    if (!/^(0|[1-9][0-9]*)$/.test(text)) fail("bad string length");
    const end = colon + 1 + Number(text);
    if (end > buf.length) fail("string past the end");
    pos.at = end;
    return buf.subarray(colon + 1, end);
  }
  if (b === 0x6c) { // l...e
    pos.at++;
    const list: Value[] = [];
    while (buf[pos.at] !== 0x65) {
      if (pos.at >= buf.length) fail("unterminated list");
      list.push(read(buf, pos, depth + 1));
    }
    pos.at++;
    return list;
  }
  if (b === 0x64) { // d...e
    pos.at++;
    const dict: { [key: string]: Value } = Object.create(null);
    while (buf[pos.at] !== 0x65) {
      if (pos.at >= buf.length) fail("unterminated dictionary");
      const key = read(buf, pos, depth + 1);
      if (!(key instanceof Uint8Array)) fail("dictionary key is not a string");
      dict[latin1.decode(key)] = read(buf, pos, depth + 1);
    }
    pos.at++;
    return dict;
  }
  return fail(pos.at >= buf.length ? "unexpected end" : "not bencode");
}

// ---------------------------------------------------------------------------------------------------------------

function bytes(v: Value | undefined, what: string, length?: number): Uint8Array {
  if (!(v instanceof Uint8Array)) fail(`${what} is not a byte string`);
  if (length !== undefined && v.length !== length) fail(`${what} is ${v.length} bytes, not ${length}`);
  return v;
}

function dict(v: Value | undefined, what: string): { [key: string]: Value } {
  if (v === undefined || typeof v === "number" || v instanceof Uint8Array || Array.isArray(v)) {
    fail(`${what} is not a dictionary`);
  }
  return v;
}

const text = (v: Value | undefined, what: string) => latin1.decode(bytes(v, what));

/** Reads compact node infos: 26 bytes each for IPv4 (id, address, port), 38 for IPv6; a partial one is refused. */
export function decodeNodes(buf: Uint8Array, ipv6: boolean): NodeInfo[] {
  const size = ipv6 ? 38 : 26;
  if (buf.length % size !== 0) fail(`${ipv6 ? "nodes6" : "nodes"} of ${buf.length} bytes`);
  const out: NodeInfo[] = [];
  for (let at = 0; at < buf.length; at += size) {
    const [peer] = decodeCompactPeers(buf.subarray(at + ID_LENGTH, at + size), ipv6);
    if (peer) out.push({ id: buf.slice(at, at + ID_LENGTH), ...peer });
  }
  return out;
}

/** Writes node infos in compact form; nodes of the other address family are left out. */
export function encodeNodes(nodes: NodeInfo[], ipv6: boolean): Uint8Array {
  const fits = nodes.filter((n) => n.host.includes(":") === ipv6);
  const size = ipv6 ? 38 : 26;
  const out = new Uint8Array(fits.length * size);
  fits.forEach((n, i) => {
    out.set(n.id, i * size);
    out.set(encodeCompactPeers([n], ipv6), i * size + ID_LENGTH);
  });
  return out;
}

function decodeQuery(name: string, a: { [key: string]: Value }): Query {
  const id = bytes(a.id, "a.id", ID_LENGTH);
  switch (name) {
    case "ping":
      return { method: "ping", id };
    case "find_node":
      return { method: "find_node", id, target: bytes(a.target, "a.target", ID_LENGTH) };
    case "get_peers":
      return { method: "get_peers", id, infoHash: bytes(a.info_hash, "a.info_hash", ID_LENGTH) };
    case "announce_peer": {
      const port = a.port;
      const impliedPort = a.implied_port === 1;
      if (!impliedPort && (typeof port !== "number" || port < 1 || port > 65535)) fail("a.port out of range");
      return {
        method: "announce_peer",
        id,
        infoHash: bytes(a.info_hash, "a.info_hash", ID_LENGTH),
        port: typeof port === "number" ? port : 0,
        token: bytes(a.token, "a.token"),
        impliedPort,
      };
    }
    default:
      return { method: "unknown", id, name: name.slice(0, 32) };
  }
}

function decodeResponse(r: { [key: string]: Value }): Response {
  const out: Response = { id: bytes(r.id, "r.id", ID_LENGTH) };
  if (r.nodes !== undefined) out.nodes = decodeNodes(bytes(r.nodes, "r.nodes"), false);
  if (r.nodes6 !== undefined) out.nodes6 = decodeNodes(bytes(r.nodes6, "r.nodes6"), true);
  if (r.token !== undefined) out.token = bytes(r.token, "r.token");
  if (r.values !== undefined) {
    if (!Array.isArray(r.values)) fail("r.values is not a list");
    out.values = r.values.flatMap((v) => {
      const b = bytes(v, "a value");
      if (b.length !== 6 && b.length !== 18) fail(`a value of ${b.length} bytes`);
      return decodeCompactPeers(b, b.length === 18);
    });
  }
  return out;
}

/** Decodes one datagram; throws `SyntaxError` for anything that is not a well-formed KRPC message. */
export function decodeKrpc(packet: Uint8Array): Message {
  if (packet.length > MAX_PACKET) fail(`${packet.length} bytes`);
  const pos = { at: 0 };
  const top = dict(read(packet, pos, 0), "the packet");
  if (pos.at !== packet.length) fail("bytes after the message");
  const t = bytes(top.t, "t");
  if (t.length === 0 || t.length > 16) fail(`transaction id of ${t.length} bytes`);
  const y = text(top.y, "y");
  if (y === "q") return { y, t, q: decodeQuery(text(top.q, "q"), dict(top.a, "a")) };
  if (y === "r") return { y, t, r: decodeResponse(dict(top.r, "r")) };
  if (y === "e") {
    const e = top.e;
    if (!Array.isArray(e) || typeof e[0] !== "number") fail("e is not [code, message]");
    return { y, t, code: e[0], message: e[1] instanceof Uint8Array ? latin1.decode(e[1]).slice(0, 200) : "" };
  }
  return fail(`y is "${y.slice(0, 8)}"`);
}

/** Encodes a query. */
export function encodeQuery(t: Uint8Array, q: Query): Uint8Array {
  const a: Record<string, unknown> = { id: q.id };
  if (q.method === "find_node") a.target = q.target;
  if (q.method === "get_peers") a.info_hash = q.infoHash;
  if (q.method === "announce_peer") {
    Object.assign(a, { info_hash: q.infoHash, port: q.port, token: q.token });
    if (q.impliedPort) a.implied_port = 1;
  }
  const name = q.method === "unknown" ? q.name : q.method;
  return bencode.encode({ t, y: "q", q: name, a });
}

/** Encodes a response. */
export function encodeResponse(t: Uint8Array, r: Response): Uint8Array {
  const body: Record<string, unknown> = { id: r.id };
  if (r.nodes) body.nodes = encodeNodes(r.nodes, false);
  if (r.nodes6) body.nodes6 = encodeNodes(r.nodes6, true);
  if (r.token) body.token = r.token;
  if (r.values) body.values = r.values.map((p) => encodeCompactPeers([p], p.host.includes(":")));
  return bencode.encode({ t, y: "r", r: body });
}

/** Encodes an error. */
export function encodeError(t: Uint8Array, code: number, message: string): Uint8Array {
  return bencode.encode({ t, y: "e", e: [code, message] });
}
