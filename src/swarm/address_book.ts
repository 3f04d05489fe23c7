/**
 * The supervisor's address book: every peer address it has heard of, with its failures, back-off, strikes and ban.
 * Plain bookkeeping, bounded whatever trackers send.
 *
 * @module
 */

import type { PeerAddress } from "../common/peer_address.ts";

/** Everything the supervisor knows about one address. */
export interface AddressEntry {
  /** The peer's address. */
  host: string;
  /** The peer's TCP port. */
  port: number;
  /** Connections that failed in a row: the back-off grows with them. */
  failures: number;
  /** Not dialled again before this time (milliseconds since the epoch). */
  retryAt: number;
  /** Pieces from this peer that failed their hash. */
  strikes: number;
  /** Never dialled or accepted again. */
  banned: boolean;
  /** Why the last connection ended. */
  lastReason?: string;
  /** Where we heard of it first. */
  source: PeerSource;
}

/** How an address reached the book. */
export type PeerSource = "tracker" | "pex" | "given";

/** The most addresses the book keeps, whatever trackers send. */
export const MAX_ADDRESSES = 5000;

/** `host:port`, with brackets around an IPv6 host. */
export function addressKey(a: PeerAddress): string {
  return a.host.includes(":") ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}

function isSelf(a: PeerAddress, port: number): boolean {
  return a.port === port && (a.host === "127.0.0.1" || a.host === "::1" || a.host === "localhost");
}

/**
 * Adds addresses to the book, skipping our own. When the book is full, a new address takes the place of one that
 * has failed and is not connected (banned ones stay, so they stay banned); with no such place it is dropped.
 */
export function addPeers(
  book: Map<string, AddressEntry>,
  active: Set<string>,
  peers: PeerAddress[],
  ourPort: number,
  source: PeerSource = "tracker",
  max = MAX_ADDRESSES,
): void {
  for (const p of peers) {
    const key = addressKey(p);
    if (isSelf(p, ourPort) || book.has(key)) continue;
    if (book.size >= max) {
      const spare = [...book].find(([k, e]) => e.failures > 0 && !e.banned && !active.has(k));
      if (!spare) continue;
      book.delete(spare[0]);
    }
    book.set(key, { host: p.host, port: p.port, failures: 0, retryAt: 0, strikes: 0, banned: false, source });
  }
}

/** Records how a connection to `key` ended and when to try it again (exponential back-off, reset by progress). */
export function recordClose(
  book: Map<string, AddressEntry>,
  key: string,
  reason: string,
  pieces: number,
): void {
  const entry = book.get(key);
  if (!entry) return; // an incoming peer: it dials us again if it wants
  entry.lastReason = reason;
  if (pieces > 0) entry.failures = 0;
  else entry.failures++;
  entry.retryAt = Date.now() + Math.min(2000 * 2 ** entry.failures, 300_000);
}
