/**
 * The peers other nodes announced to us (`announce_peer`), by infohash, for answering `get_peers`. Bounded per
 * infohash and in total whatever is announced; an entry lasts 30 minutes unless announced again (peers re-announce
 * about every 15).
 *
 * @module
 */

import type { PeerAddress } from "../common/peer_address.ts";
import { toHex } from "../common/bytes.ts";

/** How long an announced peer is kept without a new announce. */
export const PEER_TTL_MS = 30 * 60_000;

/** Announced peers, bounded. */
export class PeerStore {
  readonly #byHash = new Map<string, Map<string, { peer: PeerAddress; at: number }>>();
  #total = 0;

  constructor(
    readonly perInfoHash = 200,
    readonly total = 20_000,
    readonly maxInfoHashes = 2_000,
    readonly now: () => number = Date.now,
  ) {}

  /** Peers stored, over every infohash. */
  get size(): number {
    return this.#total;
  }

  /** Infohashes with peers. */
  get infoHashes(): number {
    return this.#byHash.size;
  }

  /** Records `peer` for `infoHash`; when full, the oldest entry of that infohash (or a new infohash) gives way. */
  add(infoHash: Uint8Array, peer: PeerAddress): void {
    const key = toHex(infoHash);
    let peers = this.#byHash.get(key);
    if (!peers) {
      if (this.#byHash.size >= this.maxInfoHashes) this.#expire();
      if (this.#byHash.size >= this.maxInfoHashes) return;
      peers = new Map();
      this.#byHash.set(key, peers);
    }
    const at = `${peer.host}:${peer.port}`;
    if (peers.delete(at)) this.#total--;
    if (peers.size >= this.perInfoHash || this.#total >= this.total) {
      const oldest = peers.keys().next().value;
      if (oldest === undefined) return;
      peers.delete(oldest);
      this.#total--;
    }
    peers.set(at, { peer, at: this.now() });
    this.#total++;
  }

  /** Up to `count` peers for `infoHash`, newest first; expired ones are dropped on the way. */
  get(infoHash: Uint8Array, count = 50): PeerAddress[] {
    const peers = this.#byHash.get(toHex(infoHash));
    if (!peers) return [];
    const now = this.now();
    const out: PeerAddress[] = [];
    for (const [k, v] of [...peers].reverse()) {
      if (now - v.at > PEER_TTL_MS) {
        peers.delete(k);
        this.#total--;
      } else if (out.length < count) out.push(v.peer);
    }
    if (peers.size === 0) this.#byHash.delete(toHex(infoHash));
    return out;
  }

  /** Drops every expired entry. */
  #expire(): void {
    const now = this.now();
    for (const [hash, peers] of this.#byHash) {
      for (const [k, v] of peers) {
        if (now - v.at > PEER_TTL_MS) {
          peers.delete(k);
          this.#total--;
        }
      }
      if (peers.size === 0) this.#byHash.delete(hash);
    }
  }
}
