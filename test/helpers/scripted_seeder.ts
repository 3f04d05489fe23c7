/**
 * A scripted seeder for tests: listens on 127.0.0.1 (port 0), answers handshakes, sends a full bitfield, unchokes
 * when asked and serves requests from memory. Options make it misbehave in controlled ways.
 */

import {
  decodeHandshake,
  decodeMessage,
  encodeHandshake,
  encodeMessage,
  HANDSHAKE_LENGTH,
} from "../../src/wire.ts";
import { FrameReader } from "../../src/frame_reader.ts";
import { Bitfield } from "../../src/bitfield.ts";

export interface SeederOptions {
  infoHash: Uint8Array;
  data: Uint8Array;
  pieceLength: number;
  /** Pieces whose served bytes are flipped (hash failures). */
  corruptPieces?: Set<number>;
  /** Pieces it claims to have (default all). */
  pieces?: Set<number>;
  /** Never unchokes. */
  neverUnchoke?: boolean;
  /** Waits this long before it serves each block (a slow peer). */
  blockDelayMs?: number;
  /** Answers the handshake with this infohash instead of the one asked for. */
  answerInfoHash?: Uint8Array;
  /** Answers the handshake with this peer id (the downloader's own: a self-connection). */
  peerId?: Uint8Array;
  /** Raw bytes sent right after the handshake, before the bitfield (malformed frames). */
  afterHandshake?: Uint8Array;
  /** Sends no bitfield. */
  noBitfield?: boolean;
  /**
   * What it does with requests: serve them (default), ignore them, trickle each block one byte per second, or
   * send half of the first block and close the connection.
   */
  onRequest?: "serve" | "ignore" | "trickle" | "close-mid-block";
}

export interface ScriptedSeeder {
  port: number;
  /** Blocks served, by piece index. */
  served: Map<number, number>;
  connections: number;
  close(): Promise<void>;
}

export function startSeeder(opts: SeederOptions): ScriptedSeeder {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const pieceCount = Math.ceil(opts.data.length / opts.pieceLength);
  const peerId = opts.peerId ?? new TextEncoder().encode("-SS0001-scriptedpeer");
  const conns = new Set<Deno.Conn>();
  const seeder: ScriptedSeeder = {
    port: (listener.addr as Deno.NetAddr).port,
    served: new Map(),
    connections: 0,
    async close() {
      listener.close();
      for (const c of conns) {
        try {
          c.close();
        } catch { /* closed */ }
      }
      await accepting;
    },
  };

  async function write(conn: Deno.Conn, bytes: Uint8Array) {
    let at = 0;
    while (at < bytes.length) at += await conn.write(bytes.subarray(at));
  }

  async function serve(conn: Deno.Conn) {
    seeder.connections++;
    conns.add(conn);
    const reader = new FrameReader(1 << 20);
    try {
      let hs;
      while ((hs = reader.take(HANDSHAKE_LENGTH)) === null) {
        const n = await conn.read(reader.space());
        if (n === null) return;
        reader.filled(n);
      }
      const theirs = decodeHandshake(hs);
      await write(conn, encodeHandshake(opts.answerInfoHash ?? theirs.infoHash, peerId));
      const bits = new Bitfield(pieceCount);
      for (let i = 0; i < pieceCount; i++) if (!opts.pieces || opts.pieces.has(i)) bits.set(i);
      if (opts.afterHandshake) await write(conn, opts.afterHandshake);
      if (!opts.noBitfield) await write(conn, encodeMessage({ type: "bitfield", bits: bits.bytes }));
      for (;;) {
        let frame;
        while ((frame = reader.next()) !== null) {
          const msg = decodeMessage(frame);
          if (msg.type === "interested" && !opts.neverUnchoke) {
            await write(conn, encodeMessage({ type: "unchoke" }));
          }
          if (msg.type === "request" && opts.onRequest !== "ignore") {
            const at = msg.index * opts.pieceLength + msg.begin;
            const block = opts.data.slice(at, at + msg.length);
            if (opts.corruptPieces?.has(msg.index)) block[0] ^= 0xff;
            const frame = encodeMessage({ type: "piece", index: msg.index, begin: msg.begin, block });
            if (opts.onRequest === "close-mid-block") {
              await write(conn, frame.subarray(0, frame.length >> 1));
              return;
            }
            if (opts.onRequest === "trickle") {
              for (const byte of frame) {
                await write(conn, new Uint8Array([byte]));
                await new Promise((r) => setTimeout(r, 1000));
              }
            }
            if (opts.blockDelayMs) await new Promise((r) => setTimeout(r, opts.blockDelayMs));
            seeder.served.set(msg.index, (seeder.served.get(msg.index) ?? 0) + 1);
            if (opts.onRequest !== "trickle") await write(conn, frame);
          }
        }
        const n = await conn.read(reader.space());
        if (n === null) return;
        reader.filled(n);
      }
    } catch {
      // the client closed the connection
    } finally {
      conns.delete(conn);
      try {
        conn.close();
      } catch { /* closed */ }
    }
  }

  const accepting = (async () => {
    try {
      for await (const conn of listener) serve(conn);
    } catch { /* listener closed */ }
  })();
  return seeder;
}
