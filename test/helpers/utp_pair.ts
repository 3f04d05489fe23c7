/**
 * Two uTP endpoints joined in memory, through a path that can lose, duplicate, delay and reorder packets: the
 * transport's own behaviour, tested without sockets.
 */

import { UtpEndpoint, type UtpEndpointOptions } from "../../src/utp/endpoint.ts";
import type { UtpSocket } from "../../src/utp/socket.ts";

/** What the path does to each packet. */
export interface PathFaults {
  /** Share of packets dropped (0-1). */
  loss?: number;
  /** Share of packets sent twice. */
  duplicate?: number;
  /** Each packet's delay: `delayMs` plus up to `jitterMs` more at random (jitter reorders). */
  delayMs?: number;
  jitterMs?: number;
  /** Packets past this size are dropped, as a path with that MTU would (default: none). */
  mtu?: number;
}

/**
 * A path with `faults`: `pass(bytes, deliver)` loses, duplicates and delays a packet as they say (drawing from
 * `random` in the same order each time, so a seed gives the same run), then calls `deliver` with each copy.
 * `timers` holds the delays still pending, for the caller to clear.
 */
export function faultyPath(
  faults: PathFaults,
  random: () => number,
  counts: { lost: number; duplicated: number },
) {
  const timers = new Set<ReturnType<typeof setTimeout>>();
  const pass = (bytes: Uint8Array, deliver: (copy: Uint8Array) => void) => {
    if (random() < (faults.loss ?? 0)) return void counts.lost++;
    const copies = random() < (faults.duplicate ?? 0) ? 2 : 1;
    if (copies === 2) counts.duplicated++;
    for (let i = 0; i < copies; i++) {
      const copy = bytes.slice();
      const ms = (faults.delayMs ?? 0) + random() * (faults.jitterMs ?? 0);
      if (ms === 0 && i === 0) queueMicrotask(() => deliver(copy));
      else {
        const t = setTimeout(() => {
          timers.delete(t);
          deliver(copy);
        }, ms);
        timers.add(t);
      }
    }
  };
  return { pass, timers };
}

/** The two ends, what each accepted, and the path's counters. */
export interface UtpPair {
  a: UtpEndpoint;
  b: UtpEndpoint;
  accepted: Promise<UtpSocket>;
  counts: { sent: number; lost: number; duplicated: number; largest: number };
  close(): void;
}

/** A seeded random source, so a failing run can be run again. */
export function seeded(seed: number): () => number {
  let x = Math.imul(seed, 0x9e3779b9) >>> 0 || 1; // spread small seeds: xorshift starts slowly from them
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 0x1_0000_0000;
  };
}

/** Endpoints `a` (at 10.0.0.1:1) and `b` (10.0.0.2:2); `b` accepts. */
export function utpPair(
  faults: PathFaults = {},
  seed = 1,
  options: Partial<UtpEndpointOptions> = {},
): UtpPair {
  const random = seeded(seed);
  const counts = { sent: 0, lost: 0, duplicated: 0, largest: 0 };
  const path = faultyPath(faults, random, counts);
  let resolveAccept: (s: UtpSocket) => void;
  const accepted = new Promise<UtpSocket>((r) => resolveAccept = r);
  const deliver = (to: () => UtpEndpoint, host: string, port: number) => (bytes: Uint8Array) => {
    counts.sent++;
    counts.largest = Math.max(counts.largest, bytes.length + 28);
    if (faults.mtu !== undefined && bytes.length + 28 > faults.mtu) return void counts.lost++;
    path.pass(bytes, (copy) => to().receive(copy, host, port));
  };
  options = { keepAlive: true, ...options }; // no socket keeps the test alive while a timer waits
  const a: UtpEndpoint = new UtpEndpoint({
    ...options,
    send: (bytes) => deliver(() => b, "10.0.0.1", 1)(bytes),
  });
  const b: UtpEndpoint = new UtpEndpoint({
    ...options,
    send: (bytes) => deliver(() => a, "10.0.0.2", 2)(bytes),
    onAccept: (s) => resolveAccept(s),
  });
  return {
    a,
    b,
    accepted,
    counts,
    close() {
      for (const t of path.timers) clearTimeout(t);
      a.close();
      b.close();
    },
  };
}

/** Writes `bytes` to `s` in chunks, then closes it. */
export async function writeAllThenClose(s: UtpSocket, bytes: Uint8Array, chunk = 100_000): Promise<void> {
  for (let at = 0; at < bytes.length; at += chunk) await s.write(bytes.subarray(at, at + chunk));
  s.close();
}

/** Reads `s` to its end. */
export async function readToEnd(s: UtpSocket, size = 64 * 1024): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const buf = new Uint8Array(size);
    const n = await s.read(buf);
    if (n === null) break;
    parts.push(buf.subarray(0, n));
    total += n;
  }
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Reads exactly `n` bytes from `s`; fails when it ends first. */
export async function readBytes(s: UtpSocket, n: number): Promise<Uint8Array> {
  const out = new Uint8Array(n);
  for (let at = 0; at < n;) {
    const got = await s.read(out.subarray(at));
    if (got === null) throw new Error(`the stream ended after ${at} of ${n} bytes`);
    at += got;
  }
  return out;
}

/** `promise`, or a rejection after `ms`: a transfer that stalls fails the test instead of hanging it. */
export function within<T>(ms: number, promise: Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout>;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) =>
      timer = setTimeout(() => reject(new Error(`no end in ${ms / 1000} s`)), ms)
    ),
  ]).finally(() => clearTimeout(timer));
}
