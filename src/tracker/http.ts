/**
 * HTTP(S) tracker announces (BEP 3, compact peers of BEP 23, `peers6` of BEP 7): building the announce URL and
 * parsing the response are pure functions; `announce` does the request with a time-out.
 *
 * @module
 */

import bencode from "bencode";
import { scanValue } from "../common/bencode_strict.ts";
import { concat } from "../common/bytes.ts";
import { decodeCompactPeers } from "../common/peer_address.ts";
import type { PeerAddress } from "../common/peer_address.ts";
import type { AnnounceParams, AnnounceResponse, ScrapeCounts } from "./types.ts";

/** Percent-encodes raw bytes for a query string: unreserved characters stay, every other byte becomes %XX. */
export function percentEncodeBytes(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) {
    const c = String.fromCharCode(b);
    s += /[A-Za-z0-9.\-_~]/.test(c) ? c : "%" + b.toString(16).toUpperCase().padStart(2, "0");
  }
  return s;
}

/** Builds the announce URL for `params`, keeping any query the tracker URL already has. */
export function announceUrl(tracker: string, params: AnnounceParams): string {
  const query = [
    `info_hash=${percentEncodeBytes(params.infoHash)}`,
    `peer_id=${percentEncodeBytes(params.peerId)}`,
    `port=${params.port}`,
    `uploaded=${params.uploaded}`,
    `downloaded=${params.downloaded}`,
    `left=${params.left}`,
    `compact=1`,
    `numwant=${params.numwant ?? 80}`,
  ];
  if (params.event) query.push(`event=${params.event}`);
  if (params.ipv6) query.push(`ipv6=${encodeURIComponent(params.ipv6)}`);
  return tracker + (tracker.includes("?") ? "&" : "?") + query.join("&");
}

const decoder = new TextDecoder();

function dictionaryPeers(list: unknown[]): PeerAddress[] {
  const peers: PeerAddress[] = [];
  for (const p of list) {
    if (typeof p !== "object" || p === null) continue;
    const { ip, port } = p as Record<string, unknown>;
    if (!(ip instanceof Uint8Array) || typeof port !== "number") continue;
    peers.push({ host: decoder.decode(ip), port });
  }
  return peers;
}

function decodeDictionary(body: Uint8Array): Record<string, unknown> {
  let dict: Record<string, unknown>;
  try {
    if (body[0] !== 0x64 || scanValue(body, 0) !== body.length) throw new SyntaxError("not a dictionary");
    dict = bencode.decode(body) as Record<string, unknown>;
  } catch {
    const text = decoder.decode(body.subarray(0, 60)).replace(/\s+/g, " ").trim();
    throw new SyntaxError(`tracker answered with something that is not bencode: "${text}"`);
  }
  const failure = dict["failure reason"];
  if (failure instanceof Uint8Array) throw new Error(`tracker refused: ${decoder.decode(failure)}`);
  return dict;
}

/**
 * Parses a tracker's bencoded answer. Throws Error with the tracker's own words for a `failure reason`, and
 * SyntaxError for a body that is not a bencoded dictionary.
 */
export function parseAnnounceResponse(body: Uint8Array): AnnounceResponse {
  const dict = decodeDictionary(body);
  const peers: PeerAddress[] = [];
  if (dict.peers instanceof Uint8Array) peers.push(...decodeCompactPeers(dict.peers, false));
  else if (Array.isArray(dict.peers)) peers.push(...dictionaryPeers(dict.peers));
  if (dict.peers6 instanceof Uint8Array) peers.push(...decodeCompactPeers(dict.peers6, true));
  const num = (k: string) => typeof dict[k] === "number" ? dict[k] as number : undefined;
  const warning = dict["warning message"];
  return {
    peers: peers.filter((p) => p.port > 0 && p.port < 65536),
    interval: Math.max(num("interval") ?? 1800, 1),
    minInterval: num("min interval"),
    warning: warning instanceof Uint8Array ? decoder.decode(warning) : undefined,
    complete: num("complete"),
    incomplete: num("incomplete"),
  };
}

/** Announces to an HTTP(S) tracker; rejects on network errors, HTTP errors, time-outs and tracker failures. */
export async function announce(
  tracker: string,
  params: AnnounceParams,
  timeoutMs = 15_000,
): Promise<AnnounceResponse> {
  return parseAnnounceResponse(await get(announceUrl(tracker, params), tracker, timeoutMs));
}

/** The scrape URL of an HTTP announce URL, by the convention of BEP 48: `…/announce` becomes `…/scrape`. */
export function scrapeUrl(tracker: string): string | undefined {
  const match = /^(https?:\/\/[^?#]*\/)announce([^/?#]*)(\?[^#]*)?$/i.exec(tracker);
  return match ? `${match[1]}scrape${match[2]}${match[3] ?? ""}` : undefined;
}

/**
 * Reads the counts from a scrape answer for one torrent (we scrape one at a time: its entry is the only one, and
 * bencode@4 turns binary keys into lossy strings). Throws like `parseAnnounceResponse`.
 */
export function parseScrapeResponse(body: Uint8Array): ScrapeCounts {
  const files = decodeDictionary(body).files;
  if (typeof files !== "object" || files === null) throw new SyntaxError("scrape answer without files");
  const entry = Object.values(files as Record<string, Record<string, unknown>>)[0];
  if (!entry) throw new Error("tracker does not know this torrent");
  const num = (k: string) => typeof entry[k] === "number" ? entry[k] as number : 0;
  return { seeders: num("complete"), completed: num("downloaded"), leechers: num("incomplete") };
}

/** Scrapes one torrent from an HTTP(S) tracker that supports it. */
export async function scrape(
  tracker: string,
  infoHash: Uint8Array,
  timeoutMs = 15_000,
): Promise<ScrapeCounts> {
  const url = scrapeUrl(tracker);
  if (!url) throw new Error(`tracker ${tracker} has no scrape URL`);
  const query = `info_hash=${percentEncodeBytes(infoHash)}`;
  return parseScrapeResponse(await get(url + (url.includes("?") ? "&" : "?") + query, tracker, timeoutMs));
}

async function get(url: string, tracker: string, timeoutMs: number): Promise<Uint8Array> {
  if (!/^https?:\/\//i.test(tracker)) throw new TypeError(`unsupported tracker URL ${tracker}`);
  let res: Response;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  } catch (e) {
    const why = (e as Error).name === "TimeoutError"
      ? `no answer in ${timeoutMs / 1000} s`
      : (e as Error).message;
    throw new Error(`tracker ${tracker} unreachable: ${why}`);
  }
  if (!res.ok) {
    await res.body?.cancel();
    throw new Error(`tracker ${tracker} answered HTTP ${res.status}`);
  }
  return await readLimited(res, MAX_RESPONSE, tracker);
}

/** A tracker answer larger than this is refused (a peer list of 100,000 IPv4 peers is 600 KB). */
export const MAX_RESPONSE = 2 * 1024 * 1024;

async function readLimited(res: Response, max: number, tracker: string): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of res.body ?? []) {
    size += chunk.length;
    // Leaving the loop cancels the stream: the rest is never read.
    if (size > max) throw new Error(`tracker ${tracker} sent more than ${max} bytes`);
    chunks.push(chunk);
  }
  return concat(chunks);
}
