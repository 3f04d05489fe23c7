/**
 * What every kind of tracker (HTTP of BEP 3, UDP of BEP 15) is asked and answers, and which tracker URLs we can
 * talk to. A leaf: the protocol modules import these types, never each other.
 *
 * @module
 */

import type { PeerAddress } from "../common/peer_address.ts";

/** True for the tracker URLs we can talk to. */
export function supportedTracker(url: string): boolean {
  return /^(https?|udp):\/\//i.test(url);
}

/** What we tell the tracker. */
export interface AnnounceParams {
  /** The torrent's infohash. */
  infoHash: Uint8Array;
  /** Our peer id. */
  peerId: Uint8Array;
  /** The port we accept peers on. */
  port: number;
  /** Payload bytes uploaded since `started`. */
  uploaded: number;
  /** Payload bytes downloaded since `started`. */
  downloaded: number;
  /** Bytes still missing. */
  left: number;
  /** The lifecycle event this announce reports, if any. */
  event?: "started" | "completed" | "stopped";
  /** How many peers we would like. */
  numwant?: number;
  /** Our global IPv6 address, told to HTTP trackers besides the one they see us at (BEP 7). */
  ipv6?: string;
}

/** What the tracker told us. */
export interface AnnounceResponse {
  /** Peers the tracker gave. */
  peers: PeerAddress[];
  /** Seconds until the next regular announce. */
  interval: number;
  /** Seconds we must wait at least before announcing again. */
  minInterval?: number;
  /** A warning message from the tracker. */
  warning?: string;
  /** Seeders, as the tracker counts them. */
  complete?: number;
  /** Leechers, as the tracker counts them. */
  incomplete?: number;
}

/** Seeders, leechers and completed downloads of one torrent, as a tracker counts them. */
export interface ScrapeCounts {
  seeders: number;
  completed: number;
  leechers: number;
}
