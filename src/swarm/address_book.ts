/**
 * The torrent's address book: every peer address it has heard of (trackers, PEX, given), with its failures,
 * back-off, strikes and ban, and which addresses have a peer actor now. Plain bookkeeping, bounded whatever
 * trackers send. The supervisor creates one per torrent; the magnet and swarm machines change it only through its
 * methods.
 *
 * @module
 */

import type { PeerAddress } from "../common/peer_address.ts";

/** Everything the client knows about one address. */
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
export type PeerSource = "tracker" | "pex" | "dht" | "given";

/** The most addresses the book keeps, whatever trackers send. */
export const MAX_ADDRESSES = 5000;

/** `host:port`, with brackets around an IPv6 host. */
export function addressKey(a: PeerAddress): string {
  return a.host.includes(":") ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}

function isSelf(a: PeerAddress, port: number): boolean {
  return a.port === port && (a.host === "127.0.0.1" || a.host === "::1" || a.host === "localhost");
}

/** Every address heard of, and the ones with a peer actor now. */
export class AddressBook {
  /** Every address, by `addressKey`. */
  readonly entries: Map<string, AddressEntry> = new Map();
  /** Keys with a peer actor now, dialled or accepted. */
  readonly active: Set<string> = new Set();

  /** `ourPort`: the port we listen on (an address of ours on it is never added); `max`: the book's bound. */
  constructor(public ourPort: number, readonly max: number = MAX_ADDRESSES) {}

  /** Addresses known. */
  get size(): number {
    return this.entries.size;
  }

  /**
   * Adds addresses, skipping our own. When the book is full, a new address takes the place of one that has failed
   * and is not connected (banned ones stay, so they stay banned); with no such place it is dropped.
   */
  add(peers: PeerAddress[], source: PeerSource = "tracker"): void {
    for (const p of peers) {
      const key = addressKey(p);
      if (isSelf(p, this.ourPort) || this.entries.has(key)) continue;
      if (this.entries.size >= this.max) {
        const spare = [...this.entries].find(([k, e]) => e.failures > 0 && !e.banned && !this.active.has(k));
        if (!spare) continue;
        this.entries.delete(spare[0]);
      }
      this.entries.set(key, {
        host: p.host,
        port: p.port,
        failures: 0,
        retryAt: 0,
        strikes: 0,
        banned: false,
        source,
      });
    }
  }

  /** Addresses that are not banned, for a metadata fetch. */
  addresses(): PeerAddress[] {
    return [...this.entries.values()].filter((e) => !e.banned).map(({ host, port }) => ({ host, port }));
  }

  /**
   * The addresses to dial now, marked active: not banned, not active, past their back-off, not in `skip` (peers
   * connected under another key), until `maxActive` addresses are active.
   */
  takeDialable(maxActive: number, now: number = Date.now(), skip?: ReadonlySet<string>): AddressEntry[] {
    const out: AddressEntry[] = [];
    for (const [key, entry] of this.entries) {
      if (this.active.size >= maxActive) break;
      if (entry.banned || entry.retryAt > now || this.active.has(key) || skip?.has(key)) continue;
      this.active.add(key);
      out.push(entry);
    }
    return out;
  }

  /** Marks an accepted connection's key active; false when it may not be (full, already active, banned). */
  takeIncoming(key: string, maxActive: number): boolean {
    if (this.active.size >= maxActive || this.active.has(key) || this.entries.get(key)?.banned) return false;
    this.active.add(key);
    return true;
  }

  /** Records how a connection to `key` ended and when to try it again (exponential back-off, reset by progress). */
  closed(key: string, reason: string, pieces: number): void {
    this.active.delete(key);
    const entry = this.entries.get(key);
    if (!entry) return; // an incoming peer: it dials us again if it wants
    entry.lastReason = reason;
    if (pieces > 0) entry.failures = 0;
    else entry.failures++;
    entry.retryAt = Date.now() + Math.min(2000 * 2 ** entry.failures, 300_000);
  }

  /** Counts a corrupt piece against `key`; true when this strike bans it (at `maxStrikes`). */
  strike(key: string, maxStrikes: number): boolean {
    const entry = this.entries.get(key);
    if (!entry) return false;
    entry.strikes++;
    if (entry.strikes < maxStrikes || entry.banned) return false;
    entry.banned = true;
    return true;
  }
}
