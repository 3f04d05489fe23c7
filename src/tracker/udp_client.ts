/**
 * Talking to a UDP tracker (BEP 15) over `node:dgram`: connection ids kept for a minute, transaction ids checked,
 * requests retransmitted after 15 × 2^n seconds (the base is configurable so tests run fast), and `error` replies
 * reported in the tracker's own words.
 *
 * @module
 */

import dgram from "node:dgram";
import type { AnnounceParams, AnnounceResponse } from "./types.ts";
import { decodeReply, encodeAnnounce, encodeConnect, encodeScrape, type UdpReply } from "./udp_packets.ts";
import { type ScrapeCounts } from "./types.ts";

export interface UdpTrackerOptions {
  /** First retransmission delay; BEP 15 says 15 s, doubling after each retransmission. */
  retryBaseMs?: number;
  /** Retransmissions before giving up (BEP 15: up to n = 8). */
  maxRetries?: number;
  /** A connection id is used for this long after the tracker gave it (BEP 15: one minute). */
  connectionTtlMs?: number;
  now?: () => number;
}

interface Target {
  host: string;
  port: number;
  ipv6: boolean;
}

/** Splits `udp://host:port/…` into host, port and address family. */
export function udpTarget(url: string): Target {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new TypeError(`bad tracker URL ${url}`);
  }
  if (parsed.protocol !== "udp:" || !parsed.port) throw new TypeError(`bad UDP tracker URL ${url}`);
  const ipv6 = parsed.hostname.startsWith("[");
  return { host: ipv6 ? parsed.hostname.slice(1, -1) : parsed.hostname, port: Number(parsed.port), ipv6 };
}

/** One client for any number of UDP trackers; it remembers each tracker's connection id. */
export class UdpTrackerClient {
  readonly #connections = new Map<string, { id: bigint; at: number }>();
  readonly #key = crypto.getRandomValues(new Uint32Array(1))[0];
  readonly #retryBaseMs: number;
  readonly #maxRetries: number;
  readonly #ttlMs: number;
  readonly #now: () => number;

  constructor(options: UdpTrackerOptions = {}) {
    this.#retryBaseMs = options.retryBaseMs ?? 15_000;
    this.#maxRetries = options.maxRetries ?? 8;
    this.#ttlMs = options.connectionTtlMs ?? 60_000;
    this.#now = options.now ?? Date.now;
  }

  /** Announces; rejects when the tracker never answers, answers with an error, or gives up within `timeoutMs`. */
  announce(url: string, params: AnnounceParams, timeoutMs = Infinity): Promise<AnnounceResponse> {
    return this.#transact(url, timeoutMs, (id, tid) => encodeAnnounce(id, tid, params, this.#key), "announce")
      .then((reply) => (reply as Extract<UdpReply, { action: "announce" }>).response);
  }

  /** Scrapes up to 74 infohashes at once (what fits one packet); counts come back in the same order. */
  scrape(url: string, infoHashes: Uint8Array[], timeoutMs = Infinity): Promise<ScrapeCounts[]> {
    return this.#transact(
      url,
      timeoutMs,
      (id, tid) => encodeScrape(id, tid, infoHashes.slice(0, 74)),
      "scrape",
    )
      .then((reply) => (reply as Extract<UdpReply, { action: "scrape" }>).counts);
  }

  async #transact(
    url: string,
    timeoutMs: number,
    build: (connectionId: bigint, transactionId: number) => Uint8Array,
    action: "announce" | "scrape",
  ): Promise<UdpReply> {
    const target = udpTarget(url);
    const socket = dgram.createSocket(target.ipv6 ? "udp6" : "udp4");
    const deadline = this.#now() + timeoutMs;
    try {
      await new Promise<void>((resolve, reject) => {
        socket.once("error", reject);
        socket.connect(target.port, target.host, () => {
          socket.off("error", reject);
          resolve();
        });
      });
      const exchange = new Exchange(socket, target.ipv6);
      let attempt = 0;
      // The retransmission counter runs across the connect and the request, as BEP 15 describes.
      while (true) {
        const wait = this.#retryBaseMs * 2 ** attempt;
        const left = deadline - this.#now();
        if (left <= 0 || attempt > this.#maxRetries) {
          throw new Error(`tracker ${url} unreachable: no answer after ${attempt} attempts`);
        }
        const cached = this.#connections.get(url);
        const fresh = cached && this.#now() - cached.at < this.#ttlMs ? cached : undefined;
        const tid = crypto.getRandomValues(new Uint32Array(1))[0];
        const packet = fresh ? build(fresh.id, tid) : encodeConnect(tid);
        const reply = await exchange.send(packet, tid, Math.min(wait, left));
        if (!reply) {
          attempt++;
          continue;
        }
        if (reply.action === "error") {
          this.#connections.delete(url); // perhaps our id expired on its side: the next call connects anew
          throw new Error(`tracker refused: ${reply.message || "(no message)"}`);
        }
        if (reply.action === "connect") {
          this.#connections.set(url, { id: reply.connectionId, at: this.#now() });
          continue;
        }
        if (reply.action !== action) throw new Error(`tracker ${url} answered ${reply.action} to ${action}`);
        return reply;
      }
    } catch (e) {
      if (e instanceof Error && !e.message.startsWith("tracker")) {
        throw new Error(`tracker ${url} unreachable: ${e.message}`);
      }
      throw e;
    } finally {
      try {
        socket.close();
      } catch { /* already closed */ }
    }
  }
}

/** Sends a packet and waits for the reply that carries its transaction id; others are stray and ignored. */
class Exchange {
  #waiting?: { tid: number; resolve: (reply: UdpReply) => void };

  constructor(readonly socket: dgram.Socket, ipv6: boolean) {
    socket.on("message", (msg: Uint8Array) => {
      const reply = decodeReply(new Uint8Array(msg), ipv6);
      if (reply && this.#waiting && reply.transactionId === this.#waiting.tid) this.#waiting.resolve(reply);
    });
  }

  send(packet: Uint8Array, tid: number, waitMs: number): Promise<UdpReply | undefined> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#waiting = undefined;
        resolve(undefined);
      }, waitMs);
      this.#waiting = {
        tid,
        resolve: (reply) => {
          clearTimeout(timer);
          this.#waiting = undefined;
          resolve(reply);
        },
      };
      this.socket.send(packet);
    });
  }
}
