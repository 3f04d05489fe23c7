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
} from "../../src/wire/wire.ts";
import { FrameReader } from "../../src/wire/frame_reader.ts";
import { Bitfield } from "../../src/common/bitfield.ts";
import {
  decodeExtHandshake,
  decodeMetadataMessage,
  encodeExtHandshake,
  encodeMetadataMessage,
} from "../../src/wire/extension.ts";

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
  /** Speaks the fast extension (BEP 6): have-all instead of a full bitfield. */
  fast?: boolean;
  /** With `fast`: rejects requests for these pieces (every time), and the first `rejectFirst` requests. */
  rejectPieces?: Set<number>;
  rejectFirst?: number;
  /** Speaks the extension protocol and serves this metadata over ut_metadata (BEP 9). */
  metadata?: Uint8Array;
  /** Flips a byte of the metadata it serves. */
  corruptMetadata?: boolean;
  /** Waits this long before each metadata answer. */
  metadataDelayMs?: number;
  /** Listens on this port instead of a free one. */
  port?: number;
}

export interface ScriptedSeeder {
  port: number;
  /** Blocks served, by piece index. */
  served: Map<number, number>;
  connections: number;
  /** Types of the messages it received, in order (`extended` ones as `extended:<ext id>`). */
  seen: string[];
  close(): Promise<void>;
}

export function startSeeder(opts: SeederOptions): ScriptedSeeder {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: opts.port ?? 0 });
  const pieceCount = Math.ceil(opts.data.length / opts.pieceLength);
  // Each its own id, as real peers have: a client keeps one connection per peer id.
  const peerId = opts.peerId ?? new TextEncoder().encode(`-SS0001-${crypto.randomUUID().slice(0, 12)}`);
  const conns = new Set<Deno.Conn>();
  const seeder: ScriptedSeeder = {
    port: (listener.addr as Deno.NetAddr).port,
    served: new Map(),
    connections: 0,
    seen: [],
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
      const reserved = new Uint8Array(8);
      if (opts.fast) reserved[7] |= 0x04;
      if (opts.metadata) reserved[5] |= 0x10;
      await write(conn, encodeHandshake(opts.answerInfoHash ?? theirs.infoHash, peerId, reserved));
      let utMetadata = 0;
      if (opts.metadata) {
        const payload = encodeExtHandshake({ m: { ut_metadata: 3 }, metadataSize: opts.metadata.length });
        await write(conn, encodeMessage({ type: "extended", ext: 0, payload }));
      }
      const bits = new Bitfield(pieceCount);
      for (let i = 0; i < pieceCount; i++) if (!opts.pieces || opts.pieces.has(i)) bits.set(i);
      if (opts.afterHandshake) await write(conn, opts.afterHandshake);
      if (opts.fast && bits.complete) await write(conn, encodeMessage({ type: "have-all" }));
      else if (!opts.noBitfield) await write(conn, encodeMessage({ type: "bitfield", bits: bits.bytes }));
      let rejectFirst = opts.rejectFirst ?? 0;
      for (;;) {
        let frame;
        while ((frame = reader.next()) !== null) {
          const msg = decodeMessage(frame);
          seeder.seen.push(msg.type === "extended" ? `extended:${msg.ext}` : msg.type);
          if (msg.type === "extended" && msg.ext === 0) {
            utMetadata = decodeExtHandshake(msg.payload).m.ut_metadata ?? 0;
          }
          if (msg.type === "extended" && msg.ext === 3 && opts.metadata && utMetadata) {
            const req = decodeMetadataMessage(msg.payload);
            if (opts.metadataDelayMs) await new Promise((r) => setTimeout(r, opts.metadataDelayMs));
            const data = opts.metadata.slice(req.piece * 16384, (req.piece + 1) * 16384);
            if (opts.corruptMetadata) data[0] ^= 0xff;
            const answer = encodeMetadataMessage({
              kind: "data",
              piece: req.piece,
              totalSize: opts.metadata.length,
              data,
            });
            await write(conn, encodeMessage({ type: "extended", ext: utMetadata, payload: answer }));
          }
          if (
            msg.type === "request" && opts.fast &&
            (opts.rejectPieces?.has(msg.index) || rejectFirst-- > 0)
          ) {
            await write(
              conn,
              encodeMessage({ type: "reject", index: msg.index, begin: msg.begin, length: msg.length }),
            );
            continue;
          }
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
