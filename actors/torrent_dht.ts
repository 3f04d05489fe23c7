/**
 * The supervisor's DHT helpers: the DHT actor's input, the lookup for this torrent and how often it repeats, and
 * the peers it finds going into the address book.
 *
 * @module
 */

import { equalBytes } from "../src/common/bytes.ts";
import type { DhtCommand, DhtInput, DhtReport } from "./dht.ts";
import { infoHashOf, type TorrentContext, type TorrentEvent } from "./torrent_context.ts";

/** The DHT actor's input: the UDP port is the peer listener's number, as other clients expect. */
export function dhtInput(ctx: TorrentContext): DhtInput {
  return {
    port: ctx.listener ? ctx.port : 0,
    host: typeof ctx.input.listen === "string" ? ctx.input.listen : undefined,
    udp: ctx.udp,
    ...ctx.input.dht!,
  };
}

/** The DHT lookup for this torrent, announcing our port when we listen. */
export function dhtLookup(ctx: TorrentContext): DhtCommand {
  return { type: "dht.lookup", infoHash: infoHashOf(ctx), announcePort: ctx.listener ? ctx.port : undefined };
}

/**
 * When to look up again: every 15 minutes (BEP 5's announce interval), every 5 s while a magnet link still waits
 * for its metadata (the peers that have it may announce only now; a lookup costs a few dozen small packets).
 */
export function reannounceMs(ctx: TorrentContext): number {
  return ctx.meta ? 15 * 60_000 : 5_000;
}

/** Puts the peers the DHT found for this torrent into the address book, with source `dht`. */
export function learnDhtPeers(ctx: TorrentContext, event: TorrentEvent): void {
  const e = event as Extract<DhtReport, { type: "dht.peers" }>;
  const ours = infoHashOf(ctx);
  if (equalBytes(e.infoHash, ours)) ctx.book.add(e.peers, "dht");
}
