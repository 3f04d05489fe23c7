/**
 * The tracker actor: announces `started` to the torrent's HTTP trackers, then again every `interval` (or sooner
 * when the supervisor asks for peers, no sooner than `min interval`), and reports the peers it learns. Failures are
 * retried with exponential back-off and reported, never fatal by themselves.
 *
 * @module
 */

import { fromCallback } from "xstate";
import { announce, type AnnounceParams, type PeerAddress } from "../src/tracker.ts";

export interface TrackerInput {
  trackers: string[][];
  params: () => Omit<AnnounceParams, "event">;
  timeoutMs?: number;
  /** First retry delay after a failure; doubles up to five minutes. */
  retryMs?: number;
}

export type TrackerEvent =
  | { type: "tracker.peers"; peers: PeerAddress[]; tracker: string }
  | { type: "tracker.error"; message: string }
  | { type: "tracker.warning"; message: string };

/** The HTTP(S) trackers of a torrent, tier by tier (UDP trackers come with BEP 15 support). */
export function httpTrackers(tiers: string[][]): string[] {
  return tiers.flat().filter((url) => /^https?:\/\//i.test(url));
}

/** Announces `event` to every HTTP tracker, each with a short time-out; never rejects. */
export async function announceEvent(
  tiers: string[][],
  params: AnnounceParams,
  timeoutMs = 5000,
): Promise<void> {
  await Promise.allSettled(httpTrackers(tiers).map((url) => announce(url, params, timeoutMs)));
}

export const trackerActor = fromCallback<{ type: "tracker.announce" }, TrackerInput, TrackerEvent>(
  ({ input, sendBack, receive }) => {
    const urls = httpTrackers(input.trackers);
    let timer: ReturnType<typeof setTimeout> | undefined;
    let stopped = false;
    let failures = 0;
    let started = false;
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
      for (const url of urls) {
        try {
          const res = await announce(
            url,
            { ...input.params(), event: started ? undefined : "started" },
            input.timeoutMs,
          );
          if (stopped) return;
          started = true;
          failures = 0;
          minInterval = res.minInterval ?? Math.min(60, res.interval);
          if (res.warning) sendBack({ type: "tracker.warning", message: `${url}: ${res.warning}` });
          sendBack({ type: "tracker.peers", peers: res.peers, tracker: url });
          running = false;
          return schedule(res.interval * 1000);
        } catch (e) {
          errors.push((e as Error).message);
        }
      }
      if (stopped) return;
      running = false;
      failures++;
      sendBack({ type: "tracker.error", message: errors.join("; ") });
      schedule(Math.min((input.retryMs ?? 5000) * 2 ** (failures - 1), 300_000));
    }

    receive(() => {
      if (urls.length > 0 && !running && Date.now() - lastAnnounce >= minInterval * 1000) schedule(0);
    });
    if (urls.length === 0) {
      const udp = input.trackers.flat().length > 0;
      sendBack({
        type: "tracker.error",
        message: udp ? "no HTTP tracker in the torrent (UDP trackers are not supported yet)" : "no tracker",
      });
    } else {
      schedule(0);
    }
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  },
);
