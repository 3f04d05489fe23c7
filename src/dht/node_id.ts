/**
 * Node ids and the Kademlia metric: 160-bit ids, distance by XOR, compared as big-endian numbers.
 *
 * @module
 */

import { ID_LENGTH } from "./krpc.ts";

/** A fresh random node id. */
export function randomId(): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(ID_LENGTH));
}

/** Negative when `a` is closer to `target` than `b`, positive when farther, 0 when as close. */
export function compareDistance(target: Uint8Array, a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < ID_LENGTH; i++) {
    const da = a[i] ^ target[i], db = b[i] ^ target[i];
    if (da !== db) return da - db;
  }
  return 0;
}

/** How many leading bits `a` and `b` share (160 when equal). */
export function commonPrefix(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < ID_LENGTH; i++) {
    const x = a[i] ^ b[i];
    if (x !== 0) return i * 8 + Math.clz32(x) - 24;
  }
  return ID_LENGTH * 8;
}

/** A random id that shares exactly `bits` leading bits with `id` (the next bit differs): one in bucket `bits`. */
export function randomIdInBucket(id: Uint8Array, bits: number): Uint8Array {
  const out = randomId();
  for (let i = 0; i < bits; i++) setBit(out, i, bit(id, i));
  if (bits < ID_LENGTH * 8) setBit(out, bits, 1 - bit(id, bits));
  return out;
}

function bit(id: Uint8Array, i: number): number {
  return (id[i >> 3] >> (7 - (i & 7))) & 1;
}

function setBit(id: Uint8Array, i: number, value: number): void {
  const mask = 1 << (7 - (i & 7));
  id[i >> 3] = value ? id[i >> 3] | mask : id[i >> 3] & ~mask;
}
