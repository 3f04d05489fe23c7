/**
 * Any tracker by its URL scheme (HTTP(S) of BEP 3, UDP of BEP 15), and the tier order of BEP 12: each tier
 * shuffled once, tiers tried in order, and a tracker that answers moved to the front of its tier.
 *
 * @module
 */

import { announce as httpAnnounce, scrape as httpScrape } from "./http.ts";
import { type AnnounceParams, type AnnounceResponse, type ScrapeCounts, supportedTracker } from "./types.ts";
import { UdpTrackerClient } from "./udp_client.ts";

/** How to reach trackers: one UDP client (it keeps connection ids) and a time budget per request. */
export interface TrackerOptions {
  udp: UdpTrackerClient;
  timeoutMs: number;
  /** A UDP request's budget, retransmissions included (default `timeoutMs`). */
  udpTimeoutMs?: number;
}

export function announceTo(
  url: string,
  params: AnnounceParams,
  options: TrackerOptions,
): Promise<AnnounceResponse> {
  return /^udp:/i.test(url)
    ? options.udp.announce(url, params, options.udpTimeoutMs ?? options.timeoutMs)
    : httpAnnounce(url, params, options.timeoutMs);
}

export async function scrapeFrom(
  url: string,
  infoHash: Uint8Array,
  options: TrackerOptions,
): Promise<ScrapeCounts> {
  if (/^udp:/i.test(url)) {
    return (await options.udp.scrape(url, [infoHash], options.udpTimeoutMs ?? options.timeoutMs))[0];
  }
  return httpScrape(url, infoHash, options.timeoutMs);
}

/** The tiers of a torrent in BEP 12 order; unsupported URLs and empty tiers are left out. */
export class TrackerTiers {
  readonly tiers: string[][];

  constructor(tiers: string[][], random: () => number = Math.random) {
    this.tiers = tiers
      .map((tier) => shuffle([...new Set(tier.filter(supportedTracker))], random))
      .filter((tier) => tier.length > 0);
  }

  /** Every tracker in the order to try them. */
  order(): string[] {
    return this.tiers.flat();
  }

  /** A tracker that answered goes to the front of its tier, so it is tried first next time. */
  answered(url: string): void {
    for (const tier of this.tiers) {
      const at = tier.indexOf(url);
      if (at > 0) tier.unshift(...tier.splice(at, 1));
    }
  }
}

function shuffle<T>(items: T[], random: () => number): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [items[i], items[j]] = [items[j], items[i]];
  }
  return items;
}
