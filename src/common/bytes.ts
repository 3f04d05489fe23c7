/** Small helpers for byte arrays used across the byte formats. @module */

import { createHash, type Hash } from "node:crypto";
import { setImmediate } from "node:timers";

/** Lower-case hex of `bytes`. */
export function toHex(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += b.toString(16).padStart(2, "0");
  return s;
}

/** Bytes of a hex string; throws SyntaxError on odd length or a non-hex digit. */
export function fromHex(hex: string): Uint8Array {
  if (hex.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(hex)) {
    throw new SyntaxError(`Invalid hex string "${hex}"`);
  }
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return out;
}

/** True when both arrays hold the same bytes. */
export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** SHA-1 of `data` through Web Crypto (for small inputs; see `sha1Piece` for pieces). */
export async function sha1(data: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest("SHA-1", data as Uint8Array<ArrayBuffer>));
}

/** The slice of a piece hashed between two turns of the event loop: about 0.15 ms of work. */
export const HASH_SLICE = 256 * 1024;

let hashersMade = 0;

/**
 * A `node:crypto` SHA-1 hasher, counted. Each leaves a native object of a few hundred bytes that only a full
 * collection frees, outside what V8's heap statistics show: 16 KiB pieces make about 25,000 of them a second. The CLI's
 * heap keeper collects by this count (`sha1HashersMade`).
 */
export function newSha1(): Hash {
  hashersMade++;
  return createHash("sha1");
}

/** How many hashers `newSha1` has made in this process. */
export function sha1HashersMade(): number {
  return hashersMade;
}

/**
 * SHA-1 of `data` at once, on the main thread, into `out` when given: for pieces up to `HASH_SLICE`, where
 * `sha1Piece`'s promise would cost more than the hash (16 KiB pieces: one in a million of its allocations was the
 * hash itself). `node:crypto` hashes at 1.9 GB/s here (SHA-NI); our own SHA-1 in WebAssembly, used up to 32 KiB
 * until the heap keeper collected by hashers made, did 0.78.
 */
export function sha1Now(data: Uint8Array, out?: Uint8Array): Uint8Array {
  out ??= new Uint8Array(20);
  out.set(newSha1().update(data).digest());
  return out;
}

/** True when `hash` is the `index`th of the 20-byte hashes in `hashes`. */
export function isHashAt(hashes: Uint8Array, index: number, hash: Uint8Array): boolean {
  const at = index * 20;
  if (hash.length !== 20 || at + 20 > hashes.length) return false;
  for (let i = 0; i < 20; i++) if (hashes[at + i] !== hash[i]) return false;
  return true;
}

/**
 * SHA-1 of a piece with `node:crypto`, on the main thread, 256 KiB at a time with a turn of the event loop in
 * between, so a 16 MiB piece never holds up receiving. Measured on 1 GiB in 256 KiB pieces: Web Crypto's digest
 * costs the main thread 1.8 s (it copies each input into fresh memory first); this costs about 0.55 s, and a
 * worker thread (no copy, buffers transferred) 0.08 s on the main thread but 26 MB more memory and a slower
 * download on two cores, where the worker competes with everything else.
 */
export async function sha1Piece(data: Uint8Array): Promise<Uint8Array> {
  const hash = newSha1();
  for (let at = 0; at < data.length; at += HASH_SLICE) {
    // setImmediate, not setTimeout: chained zero timeouts are clamped to 4 ms (2.6 ms measured here).
    if (at > 0) await new Promise((resolve) => setImmediate(resolve));
    hash.update(data.subarray(at, at + HASH_SLICE));
  }
  return new Uint8Array(hash.digest());
}

/** The bytes of `parts`, one after another, in a new array. */
export function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
