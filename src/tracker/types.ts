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
  infoHash: Uint8Array;
  peerId: Uint8Array;
  port: number;
  uploaded: number;
  downloaded: number;
  left: number;
  event?: "started" | "completed" | "stopped";
  numwant?: number;
}

/** What the tracker told us. */
export interface AnnounceResponse {
  peers: PeerAddress[];
  /** Seconds until the next regular announce. */
  interval: number;
  minInterval?: number;
  warning?: string;
  complete?: number;
  incomplete?: number;
}

/** Seeders, leechers and completed downloads of one torrent, as a tracker counts them. */
export interface ScrapeCounts {
  seeders: number;
  completed: number;
  leechers: number;
}
