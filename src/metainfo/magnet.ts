/**
 * Magnet links (BEP 9): `magnet:?xt=urn:btih:<40 hex or 32 base32>&dn=<name>&tr=<tracker>&x.pe=<host:port>&so=<files>`,
 * and building a .torrent from metadata fetched with one.
 *
 * @module
 */

import bencode from "bencode";
import { concat, fromHex, toHex } from "../common/bytes.ts";
import type { PeerAddress } from "../common/peer_address.ts";
import { supportedTracker } from "../tracker/types.ts";
import { isWebSeedUrl } from "./metainfo.ts";

/** A parsed magnet link (BEP 9): the infohash and the hints that come with it. */
export interface Magnet {
  /** The torrent's infohash (`xt=urn:btih:`, hex or base32). */
  infoHash: Uint8Array;
  /** The infohash as 40 lowercase hex digits. */
  infoHashHex: string;
  /** The display name (`dn`), a hint until the metadata arrives. */
  name?: string;
  /** Each `tr` in its own tier, in the order given. */
  trackers: string[][];
  /** Peers to dial (`x.pe`). */
  peers: PeerAddress[];
  /** Web seeds (`ws`, BEP 19): used once the metadata is fetched (they cannot serve it). */
  webSeeds: string[];
  /** File indices to download (`so`, BEP 53), when given. */
  selectOnly?: number[];
}

const BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

function base32(text: string): Uint8Array {
  const out: number[] = [];
  let bits = 0, value = 0;
  for (const c of text.toUpperCase()) {
    const v = BASE32.indexOf(c);
    if (v < 0) throw new SyntaxError(`"${c}" is not base32`);
    value = (value << 5) | v;
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return new Uint8Array(out);
}

function parsePeer(text: string): PeerAddress | undefined {
  const m = /^\[?([^\]]+?)\]?:(\d+)$/.exec(text);
  const port = m ? Number(m[2]) : 0;
  return m && port > 0 && port < 65536 ? { host: m[1], port } : undefined;
}

function parseSelectOnly(text: string): number[] {
  const out = new Set<number>();
  for (const part of text.split(",")) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (!m) throw new SyntaxError(`bad so= entry "${part}"`);
    const from = Number(m[1]), to = Number(m[2] ?? m[1]);
    if (to < from || to - from > 100_000) throw new SyntaxError(`bad so= range "${part}"`);
    for (let i = from; i <= to; i++) out.add(i);
  }
  return [...out].sort((a, b) => a - b);
}

/** True when `text` looks like a magnet link rather than a file path. */
export function isMagnet(text: string): boolean {
  return /^magnet:\?/i.test(text);
}

/** Parses a magnet link; throws SyntaxError "Cannot parse magnet link: …" for anything unusable. */
export function parseMagnet(uri: string): Magnet {
  try {
    if (!isMagnet(uri)) throw new SyntaxError("it does not start with magnet:?");
    const params = new URLSearchParams(uri.slice(uri.indexOf("?") + 1));
    let infoHash: Uint8Array | undefined;
    for (const xt of params.getAll("xt")) {
      const m = /^urn:btih:([0-9a-f]{40}|[a-z2-7]{32})$/i.exec(xt);
      if (m) infoHash = m[1].length === 40 ? fromHex(m[1].toLowerCase()) : base32(m[1]);
    }
    if (!infoHash) {
      const other = params.get("xt");
      if (other?.toLowerCase().startsWith("urn:btmh:")) {
        throw new SyntaxError(
          "it is a v2-only link (urn:btmh, BEP 52), which is not supported yet: it needs urn:btih",
        );
      }
      throw new SyntaxError(
        other ? `unsupported xt "${other}" (need urn:btih:)` : "no xt=urn:btih: infohash",
      );
    }
    const trackers = [...new Set(params.getAll("tr"))].filter(supportedTracker).map((t) => [t]);
    const peers = params.getAll("x.pe").map(parsePeer).filter((p): p is PeerAddress => p !== undefined);
    const so = params.get("so");
    return {
      infoHash,
      infoHashHex: toHex(infoHash),
      name: params.get("dn") || undefined,
      trackers,
      peers,
      webSeeds: [...new Set(params.getAll("ws"))].filter(isWebSeedUrl),
      selectOnly: so ? parseSelectOnly(so) : undefined,
    };
  } catch (e) {
    throw new SyntaxError(`Cannot parse magnet link: ${(e as Error).message}`);
  }
}

/** A magnet link for a torrent, with its name and trackers. */
export function makeMagnet(infoHashHex: string, name?: string, trackers: string[][] = []): string {
  let uri = `magnet:?xt=urn:btih:${infoHashHex}`;
  if (name) uri += `&dn=${encodeURIComponent(name)}`;
  for (const t of trackers.flat()) uri += `&tr=${encodeURIComponent(t)}`;
  return uri;
}

/** A .torrent around fetched metadata: the info dictionary byte for byte (so the infohash holds), plus trackers. */
export function torrentFromMetadata(
  info: Uint8Array,
  trackers: string[][],
  webSeeds: string[] = [],
): Uint8Array {
  const head: Record<string, unknown> = {};
  if (trackers.length > 0) {
    head.announce = trackers[0][0];
    head["announce-list"] = trackers;
  }
  // Keys in order: "announce", "announce-list" sort before "info", "url-list" after; the info bytes go in
  // unchanged.
  const prefix = bencode.encode(head).subarray(0, -1);
  const suffix = webSeeds.length > 0
    ? bencode.encode({ "url-list": webSeeds }).subarray(1)
    : new TextEncoder().encode("e");
  return concat([prefix, new TextEncoder().encode("4:info"), info, suffix]);
}
