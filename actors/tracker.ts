/**
 * The tracker actor: announces `started` along the torrent's tiers (BEP 12: first tier first, a tracker that answers
 * moves to the front of its tier), then again every `interval` (or sooner when the supervisor asks for peers, no
 * sooner than `min interval`), and reports the peers it learns. HTTP and UDP trackers alike. Failures are retried
 * with exponential back-off and reported, never fatal by themselves.
 *
 * @module
 */

import { fromCallback } from "xstate";
import type { AnnounceParams } from "../src/tracker/types.ts";
import type { Metainfo } from "../src/metainfo/metainfo.ts";
import type { LocalPieces } from "../src/pieces/local_pieces.ts";
import type { PeerAddress } from "../src/common/peer_address.ts";
import { announceTo, type TrackerOptions, TrackerTiers } from "../src/tracker/trackers.ts";

/** How a torrent reaches its trackers, shared by its tracker actors and its last announce. */
export interface TrackerSetup {
  /** One UDP client (it keeps connection ids) and the time budgets. */
  options: TrackerOptions;
  /** Trackers that have been told `started`; tracker actors add to it, the supervisor tells them `stopped`. */
  announced: Set<string>;
  /** First retry delay after every tracker failed; doubles up to five minutes. */
  retryMs?: number;
  /** Peers asked of each tracker: 80, or more when we may connect to more at once. */
  numwant?: number;
  /** Our global IPv6 address when we listen on IPv6 too, for trackers (BEP 7). */
  ipv6?: string;
}

/** Who announces, and what it has: read again at every announce. */
export interface AnnounceSubject {
  infoHash: Uint8Array;
  peerId: Uint8Array;
  /** The port we accept peers on (the requested one when we do not listen). */
  port: number;
  /** The torrent's sizes, once known (a magnet link's are not until its metadata is in). */
  meta?: Pick<Metainfo, "pieceLength" | "totalLength">;
  /** What we have and what we uploaded. */
  ours?: LocalPieces;
}

/** What an announce tells the tracker about `s`. */
export function announceParams(s: AnnounceSubject, ipv6?: string): Omit<AnnounceParams, "event"> {
  const verified = s.meta && s.ours ? s.ours.verifiedBytes(s.meta.pieceLength, s.meta.totalLength) : 0;
  return {
    infoHash: s.infoHash,
    peerId: s.peerId,
    port: s.port,
    uploaded: s.ours?.uploaded ?? 0,
    downloaded: verified,
    // Before the metadata, the size is unknown; anything but 0 (which would make us a seeder) will do.
    left: s.meta ? s.meta.totalLength - verified : 16384,
    ipv6,
  };
}

/** A tracker actor's input: the torrent's trackers in tiers, how to reach them, and who announces. */
export interface TrackerInput {
  trackers: string[][];
  setup: TrackerSetup;
  subject: AnnounceSubject;
}

export type TrackerEvent =
  | { type: "tracker.peers"; peers: PeerAddress[]; tracker: string }
  /** `final`: no tracker can be asked at all (none, or none with a scheme we speak), so none is retried. */
  | { type: "tracker.error"; message: string; final?: boolean }
  | { type: "tracker.warning"; message: string };

/** What a tracker event tells a person watching, in a few words. */
export function trackerStatus(e: TrackerEvent): string {
  return e.type === "tracker.peers"
    ? `${e.peers.length} peers from ${e.tracker}`
    : e.type === "tracker.warning"
    ? `warning: ${e.message}`
    : e.final
    ? e.message
    : `error: ${e.message} (retrying)`;
}

/** Announces `event` to each of `urls` at once, each with a short time budget; never rejects. */
export async function announceEvent(
  urls: Iterable<string>,
  params: AnnounceParams,
  options: TrackerOptions,
): Promise<void> {
  const quick = { ...options, timeoutMs: Math.min(options.timeoutMs, 5000), udpTimeoutMs: undefined };
  await Promise.allSettled([...urls].map((url) => announceTo(url, params, quick)));
}

/** The tracker actor: `tracker.announce` asks for peers now (no sooner than the min interval). */
export const trackerActor = fromCallback<{ type: "tracker.announce" }, TrackerInput, TrackerEvent>(
  ({ input, sendBack, receive }) => {
    const tiers = new TrackerTiers(input.trackers);
    let timer: ReturnType<typeof setTimeout> | undefined;
    let stopped = false;
    let failures = 0;
    let lastAnnounce = 0;
    let minInterval = 60;
    let running = false;

    const schedule = (ms: number) => {
      clearTimeout(timer);
      if (!stopped) timer = setTimeout(run, ms);
    };

    async function run(): Promise<void> {
      if (running || stopped) return;
      running = true;
      lastAnnounce = Date.now();
      const errors: string[] = [];
      for (const url of tiers.order()) {
        try {
          const event = input.setup.announced.has(url) ? undefined : "started";
          const res = await announceTo(
            url,
            { ...announceParams(input.subject, input.setup.ipv6), numwant: input.setup.numwant, event },
            input.setup.options,
          );
          if (stopped) return;
          input.setup.announced.add(url);
          tiers.answered(url);
          failures = 0;
          minInterval = res.minInterval ?? Math.min(60, res.interval);
          if (res.warning) sendBack({ type: "tracker.warning", message: `${url}: ${res.warning}` });
          sendBack({ type: "tracker.peers", peers: res.peers, tracker: url });
          running = false;
          return schedule(res.interval * 1000);
        } catch (e) {
          if (stopped) return;
          errors.push((e as Error).message);
        }
      }
      running = false;
      failures++;
      sendBack({ type: "tracker.error", message: errors.join("; ") });
      schedule(Math.min((input.setup.retryMs ?? 5000) * 2 ** (failures - 1), 300_000));
    }

    const usable = tiers.order().length > 0;
    receive(() => {
      if (usable && !running && Date.now() - lastAnnounce >= minInterval * 1000) schedule(0);
    });
    if (usable) {
      schedule(0);
    } else {
      const some = input.trackers.flat().length > 0;
      sendBack({
        type: "tracker.error",
        message: some ? "no tracker with a supported scheme" : "no tracker",
        final: true,
      });
    }
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  },
);
