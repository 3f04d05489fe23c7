/**
 * Fetching a magnet link's metadata (BEP 9): the supervisor's `metadata` state invokes this actor and feeds it the
 * peers it learns. It keeps a few metadata connections open, spreads the 16 KiB ut_metadata pieces over the peers
 * that have them (two in flight per peer, the last ones asked of several), and when every piece is in checks the
 * whole against the infohash. Metadata that fails the check is dropped with the peers that sent it, and fetched
 * again from others; metadata that passes but is not a valid torrent ends the download.
 *
 * @module
 */

import type { Dial } from "../src/peer/dial.ts";
import { fromCallback } from "xstate";
import { MetadataAssembly } from "../src/metainfo/metadata_assembly.ts";
import type { PeerAddress } from "../src/common/peer_address.ts";
import { addressKey } from "../src/swarm/address_book.ts";
import { MetadataLink, type MetadataLinkEvent } from "../src/peer/metadata_link.ts";
import type { EncryptionMode } from "../src/peer/connection.ts";

export interface MetadataInput {
  infoHash: Uint8Array;
  peerId: Uint8Array;
  listenPort?: number;
  /** Peers to try first; more come as `peers` events. */
  peers?: PeerAddress[];
  /** Metadata connections open at once. */
  maxConnections?: number;
  /** A peer that leaves a request unanswered this long is dropped. */
  requestTimeoutMs?: number;
  /** Message Stream Encryption for the metadata connections. */
  encryption?: EncryptionMode;
  /** How peers are dialled (default TCP). */
  dial?: Dial;
}

export type MetadataEvent =
  | { type: "metadata.done"; info: Uint8Array }
  /** How far the fetch is, for a person watching. */
  | { type: "metadata.progress"; connected: number; withMetadata: number; pieces: number; received: number }
  /** Peers a metadata peer told us about (PEX). */
  | { type: "metadata.peers"; peers: PeerAddress[] };

export type MetadataCommand = { type: "peers"; peers: PeerAddress[] };

interface Conn {
  link: MetadataLink;
  inFlight: Map<number, number>;
  ready: boolean;
}

export const metadataFetcher = fromCallback<MetadataCommand, MetadataInput, MetadataEvent>(
  ({ input, sendBack, receive }) => {
    const maxConnections = input.maxConnections ?? 8;
    const requestTimeoutMs = input.requestTimeoutMs ?? 15_000;
    const assembly = new MetadataAssembly();
    const queue: PeerAddress[] = [];
    const seen = new Set<string>();
    const bad = new Set<string>();
    const conns = new Map<string, Conn>();
    let done = false;
    let verifying = false;

    const progress = () =>
      sendBack({
        type: "metadata.progress",
        connected: conns.size,
        withMetadata: [...conns.values()].filter((c) => c.ready).length,
        pieces: assembly.pieceCount,
        received: assembly.received,
      });

    const drop = (key: string) => {
      conns.get(key)?.link.close();
      conns.delete(key);
    };

    function fill(): void {
      while (!done && conns.size < maxConnections && queue.length > 0) {
        const peer = queue.shift()!;
        const key = addressKey(peer);
        const conn: Conn = { link: undefined!, inFlight: new Map(), ready: false };
        conn.link = new MetadataLink(
          {
            ...peer,
            infoHash: input.infoHash,
            peerId: input.peerId,
            listenPort: input.listenPort,
            encryption: input.encryption,
            dial: input.dial,
          },
          (e) => onLink(key, conn, e),
        );
        conns.set(key, conn);
        conn.link.run();
      }
      progress();
    }

    /** Gives each ready peer up to two pieces nobody has; when none is left unasked, asks again what is late. */
    function assign(): void {
      if (done || verifying || assembly.size === undefined) return;
      const asked = new Set<number>();
      for (const c of conns.values()) for (const p of c.inFlight.keys()) asked.add(p);
      for (const c of conns.values()) {
        if (!c.ready) continue;
        for (let piece = 0; piece < assembly.pieceCount && c.inFlight.size < 2; piece++) {
          if (assembly.has(piece) || c.inFlight.has(piece)) continue;
          const endgame = asked.size >= assembly.pieceCount - assembly.received;
          if (asked.has(piece) && !endgame) continue;
          asked.add(piece);
          c.inFlight.set(piece, Date.now());
          c.link.request(piece);
        }
      }
    }

    async function onLink(key: string, conn: Conn, e: MetadataLinkEvent): Promise<void> {
      if (done || conns.get(key) !== conn) return;
      switch (e.type) {
        case "link.extended":
          if (e.metadataSize !== undefined && assembly.accept(e.metadataSize)) {
            conn.ready = true;
            assign();
          } else {
            drop(key); // no metadata, or metadata of another size than the others'
            fill();
          }
          return progress();
        case "link.pex":
          return sendBack({ type: "metadata.peers", peers: e.peers });
        case "link.metadata-rejected":
          drop(key);
          return fill();
        case "link.closed":
          conns.delete(key);
          seen.delete(key); // it may come back: the next peer list retries it
          assign();
          return fill();
        case "link.metadata": {
          conn.inFlight.delete(e.piece);
          if (!assembly.add(e.piece, e.totalSize, e.data, key)) {
            bad.add(key);
            drop(key);
            return fill();
          }
          progress();
          if (!assembly.complete) return assign();
          verifying = true;
          const { info, blame } = await assembly.verify(input.infoHash);
          verifying = false;
          if (info) {
            done = true;
            for (const k of [...conns.keys()]) drop(k);
            return sendBack({ type: "metadata.done", info });
          }
          for (const k of blame) {
            bad.add(k);
            drop(k);
          }
          for (const c of conns.values()) c.inFlight.clear();
          assign();
          return fill();
        }
      }
    }

    const offer = (peers: PeerAddress[]) => {
      for (const peer of peers) {
        const key = addressKey(peer);
        if (seen.has(key) || bad.has(key)) continue;
        seen.add(key);
        queue.push(peer);
      }
      fill();
    };
    receive((cmd) => offer(cmd.peers));
    offer(input.peers ?? []);

    const timer = setInterval(() => {
      const now = Date.now();
      for (const [key, c] of conns) {
        if ([...c.inFlight.values()].some((at) => now - at > requestTimeoutMs)) {
          drop(key);
          assign();
        }
      }
      fill();
    }, 1000);

    return () => {
      done = true;
      clearInterval(timer);
      for (const k of [...conns.keys()]) drop(k);
    };
  },
);
