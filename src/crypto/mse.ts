/**
 * Message Stream Encryption (MSE, also called PE), the handshake libtorrent, Vuze and Transmission speak before
 * the BitTorrent handshake: Diffie-Hellman over a 768-bit prime, the torrent named only through hashes, then RC4
 * (or plaintext, when both sides allow it) for the rest of the connection.
 *
 *   A → B  Ya, PadA
 *   B → A  Yb, PadB
 *   A → B  HASH('req1', S), HASH('req2', SKEY) xor HASH('req3', S),
 *          ENCRYPT(VC, crypto_provide, len(PadC), PadC, len(IA)), ENCRYPT(IA)
 *   B → A  ENCRYPT(VC, crypto_select, len(PadD), PadD), then the payload in the chosen way
 *
 * A is the side that dialled. S is the shared secret, SKEY the infohash; A encrypts with
 * RC4(HASH('keyA', S, SKEY)) and B with RC4(HASH('keyB', S, SKEY)), the first 1024 bytes of each discarded. The
 * pads are random, at most 512 bytes; IA carries A's BitTorrent handshake, saving a round trip.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { createDiffieHellman, createHash, randomBytes } from "node:crypto";
import type { ByteStream } from "../common/byte_stream.ts";
import { writeAll } from "../common/byte_stream.ts";
import { concat, equalBytes } from "../common/bytes.ts";
import { Rc4 } from "./rc4.ts";
import { CipherStream, HandshakeReader } from "./streams.ts";

const PRIME = Buffer.from(
  "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DDEF9519B3CD3A43" +
    "1B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A63A36210000000000090563",
  "hex",
);
const KEY_BYTES = 96;
const MAX_PAD = 512;
/** The longest initial payload we take (a BitTorrent handshake is 68 bytes). */
const MAX_IA = 4096;
const VC = new Uint8Array(8);

/** crypto_provide and crypto_select bits. */
export const PLAINTEXT = 0x01;
export const RC4 = 0x02;

/** How the payload travels after the handshake: RC4, or plaintext after an encrypted handshake. */
export type MseTransport = "rc4" | "obfuscated";

/** The stream to run the BitTorrent protocol over, and how it travels. */
export interface MseResult {
  stream: ByteStream;
  transport: MseTransport;
}

/** Knobs for tests: a fixed private key (20 bytes) and pad lengths. */
export interface MseKnobs {
  privateKey?: Uint8Array;
  padLength?: number;
}

const enc = new TextEncoder();
const sha1 = (...parts: (string | Uint8Array)[]) => {
  const h = createHash("sha1");
  for (const p of parts) h.update(typeof p === "string" ? enc.encode(p) : p);
  return new Uint8Array(h.digest());
};
const leftPad = (b: Uint8Array) => {
  if (b.length >= KEY_BYTES) return b;
  const out = new Uint8Array(KEY_BYTES);
  out.set(b, KEY_BYTES - b.length);
  return out;
};
const u16 = (n: number) => Uint8Array.of(n >> 8, n & 0xff);
const u32 = (n: number) => Uint8Array.of(n >>> 24, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff);
const readU16 = (b: Uint8Array, at = 0) => (b[at] << 8) | b[at + 1];
const readU32 = (b: Uint8Array) => ((b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3]) >>> 0;

/** Our side of the key exchange: a 160-bit private key and the public key it gives. */
function keyPair(knobs: MseKnobs) {
  const dh = createDiffieHellman(PRIME, Buffer.from([2]));
  dh.setPrivateKey(Buffer.from(knobs.privateKey ?? randomBytes(20)));
  dh.generateKeys();
  return {
    publicKey: leftPad(new Uint8Array(dh.getPublicKey())),
    secret: (theirs: Uint8Array) => leftPad(new Uint8Array(dh.computeSecret(Buffer.from(theirs)))),
  };
}

const pad = (knobs: MseKnobs) =>
  new Uint8Array(randomBytes(knobs.padLength ?? Math.floor(Math.random() * (MAX_PAD + 1))));

/** The two RC4 streams of a connection, from A's point of view or B's. */
function ciphers(secret: Uint8Array, infoHash: Uint8Array, weAreA: boolean) {
  const keyA = new Rc4(sha1("keyA", secret, infoHash)).discard(1024);
  const keyB = new Rc4(sha1("keyB", secret, infoHash)).discard(1024);
  return weAreA ? { out: keyA, in: keyB } : { out: keyB, in: keyA };
}

/**
 * The dialling side's handshake over `stream`: offers `provide` (RC4, PLAINTEXT or both) and sends `initial`
 * (our BitTorrent handshake) inside it. Throws a one-line error when the peer does not speak MSE, picks what we
 * did not offer, or closes.
 */
export async function mseInitiate(
  stream: ByteStream,
  infoHash: Uint8Array,
  provide: number,
  initial: Uint8Array,
  knobs: MseKnobs = {},
): Promise<MseResult> {
  const ours = keyPair(knobs);
  await writeAll(stream, concat([ours.publicKey, pad(knobs)]));
  const reader = new HandshakeReader(stream);
  const secret = ours.secret(await reader.take(KEY_BYTES));
  const c = ciphers(secret, infoHash, true);
  const head = c.out.apply(concat([VC, u32(provide), u16(0), u16(initial.length)]));
  await writeAll(
    stream,
    concat([
      sha1("req1", secret),
      xor(sha1("req2", infoHash), sha1("req3", secret)),
      head,
      c.out.apply(initial.slice()),
    ]),
  );
  // B's answer starts after its pad with VC encrypted: the next 8 bytes of its keystream.
  const vc = c.in.apply(new Uint8Array(8));
  await reader.skipPast(vc, MAX_PAD, "no encryption handshake answer (the peer does not speak MSE)");
  const answer = c.in.apply(await reader.take(6));
  const select = readU32(answer);
  const padD = readU16(answer, 4);
  if (padD > MAX_PAD) throw new Error(`encryption handshake pad of ${padD} bytes (more than ${MAX_PAD})`);
  c.in.apply(await reader.take(padD));
  if (select !== RC4 && select !== PLAINTEXT || !(select & provide)) {
    throw new Error(`peer chose encryption method ${select}, which we did not offer`);
  }
  const rc4 = select === RC4;
  const ahead = reader.rest();
  if (rc4) c.in.apply(ahead);
  return {
    stream: new CipherStream(stream, rc4 ? c.in : null, rc4 ? c.out : null, ahead),
    transport: rc4 ? "rc4" : "obfuscated",
  };
}

/** What the accepting side allows, and the torrents it can answer for. */
export interface MseAccept {
  /** The infohashes we serve: the peer names one only through `HASH('req2', SKEY)`. */
  infoHashes: Uint8Array[];
  /** Methods we accept (RC4, PLAINTEXT). */
  allow: number;
  /** When the peer offers both and we allow both: RC4 (true), or plaintext, cheaper, as libtorrent does. */
  preferRc4?: boolean;
}

/**
 * The accepting side's handshake over `stream`, whose first bytes (`first`, read to tell MSE from a plaintext
 * handshake) are given back. Returns the stream (the peer's initial payload first), how it travels and the
 * torrent the peer asked for; throws a one-line error for anything wrong.
 */
export async function mseAccept(
  stream: ByteStream,
  first: Uint8Array,
  accept: MseAccept,
  knobs: MseKnobs = {},
): Promise<MseResult & { infoHash: Uint8Array }> {
  const reader = new HandshakeReader(stream, first);
  const ours = keyPair(knobs);
  const secret = ours.secret(await reader.take(KEY_BYTES));
  await writeAll(stream, concat([ours.publicKey, pad(knobs)]));
  await reader.skipPast(
    sha1("req1", secret),
    MAX_PAD,
    "not an encryption handshake (no req1 within 512 bytes)",
  );
  const named = xor(await reader.take(20), sha1("req3", secret));
  const infoHash = accept.infoHashes.find((h) => equalBytes(sha1("req2", h), named));
  if (!infoHash) throw new Error("encryption handshake for a torrent we do not serve");
  const c = ciphers(secret, infoHash, false);
  const head = c.in.apply(await reader.take(14));
  if (!equalBytes(head.subarray(0, 8), VC)) {
    throw new Error("wrong verification constant in the encryption handshake");
  }
  const provide = readU32(head.subarray(8));
  const padC = readU16(head, 12);
  if (padC > MAX_PAD) throw new Error(`encryption handshake pad of ${padC} bytes (more than ${MAX_PAD})`);
  c.in.apply(await reader.take(padC));
  const iaLength = readU16(c.in.apply(await reader.take(2)));
  if (iaLength > MAX_IA) throw new Error(`encryption handshake initial payload of ${iaLength} bytes`);
  const initial = c.in.apply(await reader.take(iaLength));
  const both = provide & accept.allow;
  const select = both === (RC4 | PLAINTEXT) ? (accept.preferRc4 ? RC4 : PLAINTEXT) : both;
  if (!select) throw new Error(`peer offers encryption methods ${provide}, none of which we allow`);
  await writeAll(stream, c.out.apply(concat([VC, u32(select), u16(0)])));
  const rc4 = select === RC4;
  const rest = reader.rest();
  if (rc4) c.in.apply(rest);
  return {
    stream: new CipherStream(stream, rc4 ? c.in : null, rc4 ? c.out : null, concat([initial, rest])),
    transport: rc4 ? "rc4" : "obfuscated",
    infoHash,
  };
}

function xor(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i] ^ b[i];
  return out;
}

/** True when `first` (at least 20 bytes) starts a plaintext BitTorrent handshake rather than an MSE one. */
export function isPlainHandshake(first: Uint8Array): boolean {
  return first[0] === 19 && new TextDecoder().decode(first.subarray(1, 20)) === "BitTorrent protocol";
}
