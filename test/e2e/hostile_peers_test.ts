/**
 * Hostile and broken peers: each case puts one misbehaving scripted peer beside an honest one. The download must
 * finish with equal bytes, and the misbehaving peer must be dropped for the stated reason, or, where the protocol
 * says to ignore what it sent, kept.
 */

import assert from "node:assert/strict";
import { startDownload } from "../../actors/client.ts";
import { Bitfield } from "../../src/common/bitfield.ts";
import { parseMetainfo } from "../../src/metainfo/metainfo.ts";
import { encodeMessage } from "../../src/wire/wire.ts";
import { makeTorrent, payload } from "../helpers/make_torrent.ts";
import { type SeederOptions, startSeeder } from "../helpers/scripted_seeder.ts";

const PIECE = 32 * 1024;
const PIECES = 21; // not a multiple of 8: the bitfield has spare bits
const OUR_ID = new TextEncoder().encode("-AX0100-hostiletests");

function frames(...parts: Uint8Array[]): Uint8Array {
  return new Uint8Array(parts.flatMap((p) => [...p]));
}

const fullBitfield = new Bitfield(PIECES);
for (let i = 0; i < PIECES; i++) fullBitfield.set(i);

interface Case {
  name: string;
  bad: Omit<SeederOptions, "infoHash" | "data" | "pieceLength">;
  /** The reason the bad peer is dropped for, or null when it must be kept. */
  dropped: RegExp | null;
  /** Slows the honest peer (ms per block), so a time-out can fire before the download ends. */
  honestDelayMs?: number;
}

const CASES: Case[] = [
  {
    name: "a frame length over the limit",
    bad: { afterHandshake: new Uint8Array([0, 0x10, 0, 0]) },
    dropped: /frame of 1048576 bytes exceeds/,
  },
  {
    name: "a known id with the wrong length",
    bad: { afterHandshake: new Uint8Array([0, 0, 0, 2, 1, 0]) },
    dropped: /unchoke message with payload of 2 bytes/,
  },
  {
    name: "a have out of range",
    bad: { afterHandshake: encodeMessage({ type: "have", index: 1_000_000 }), noBitfield: true },
    dropped: /have for piece 1000000 out of range/,
  },
  {
    name: "a bitfield with spare bits set",
    bad: {
      noBitfield: true,
      afterHandshake: encodeMessage({ type: "bitfield", bits: new Uint8Array([255, 255, 255]) }),
    },
    dropped: /spare bits/,
  },
  {
    name: "a bitfield of the wrong size",
    bad: { noBitfield: true, afterHandshake: encodeMessage({ type: "bitfield", bits: new Uint8Array(4) }) },
    dropped: /bitfield of 4 bytes for 21 pieces/,
  },
  {
    name: "its handshake carrying our own peer id",
    bad: { peerId: OUR_ID },
    dropped: /connected to ourselves/,
  },
  {
    name: "a choke that never lifts",
    bad: { neverUnchoke: true },
    dropped: /choked us for 0.4 s/,
    honestDelayMs: 30,
  },
  {
    name: "an unchoke and no answer to requests",
    bad: { onRequest: "ignore" },
    dropped: /stalled/,
    honestDelayMs: 30,
  },
  {
    name: "blocks trickled one byte a second",
    bad: { onRequest: "trickle" },
    dropped: /stalled/,
    honestDelayMs: 30,
  },
  {
    name: "a connection closed mid-block",
    bad: { onRequest: "close-mid-block" },
    dropped: /peer closed the connection/,
  },
  {
    name: "a message id we do not know",
    bad: { afterHandshake: encodeMessage({ type: "unknown", id: 99, payload: new Uint8Array(3) }) },
    dropped: null,
    honestDelayMs: 30, // the honest peer is slow, so the kept one surely serves pieces too
  },
  {
    name: "a block we never asked for",
    bad: {
      afterHandshake: encodeMessage({
        type: "piece",
        index: 0,
        begin: 0,
        block: new Uint8Array(16384).fill(7),
      }),
    },
    dropped: null,
    honestDelayMs: 30, // the honest peer is slow, so the kept one surely serves pieces too
  },
  {
    name: "a bitfield after its haves (aria2c does this)",
    bad: {
      noBitfield: true,
      afterHandshake: frames(
        encodeMessage({ type: "have", index: 1 }),
        encodeMessage({ type: "bitfield", bits: fullBitfield.bytes }),
      ),
    },
    dropped: null, // merged into what its haves said: peers only gain pieces
    honestDelayMs: 30,
  },
  {
    name: "floods of keep-alives and repeated haves",
    bad: {
      noBitfield: true,
      afterHandshake: frames(
        ...Array.from({ length: 20_000 }, () => encodeMessage({ type: "keep-alive" })),
        ...Array.from({ length: 50 * PIECES }, (_, i) => encodeMessage({ type: "have", index: i % PIECES })),
      ),
    },
    dropped: null,
    honestDelayMs: 30, // the honest peer is slow, so the kept one surely serves pieces too
  },
];

for (const c of CASES) {
  Deno.test(`a peer that sends ${c.name} is ${c.dropped ? "dropped" : "kept"}, and the download finishes`, async () => {
    const { torrent, data } = await makeTorrent({
      name: "h.bin",
      files: [{ path: ["h.bin"], data: payload(PIECES * PIECE - 99, 12) }],
      pieceLength: PIECE,
    });
    const meta = await parseMetainfo(torrent);
    const bad = startSeeder({ infoHash: meta.infoHash, data, pieceLength: PIECE, ...c.bad });
    const honest = startSeeder({
      infoHash: meta.infoHash,
      data,
      pieceLength: PIECE,
      blockDelayMs: c.honestDelayMs,
    });
    const dir = await Deno.makeTempDir();
    try {
      const result = await startDownload(meta, {
        out: `${dir}/h.bin`,
        peerId: OUR_ID,
        timeouts: { chokedMs: 400, stallMs: 500 },
        peers: [{ host: "127.0.0.1", port: bad.port }, { host: "127.0.0.1", port: honest.port }],
      }).done;
      assert(result.ok, result.error);
      assert.deepEqual(await Deno.readFile(`${dir}/h.bin`), data);
      const entry = result.book.get(`127.0.0.1:${bad.port}`)!;
      if (c.dropped) assert.match(entry.lastReason ?? "(kept)", c.dropped);
      else {
        assert.equal(entry.lastReason, undefined, "kept until the end");
        assert(bad.served.size > 0, "and still used: it served pieces");
      }
    } finally {
      await Promise.all([bad.close(), honest.close()]);
      await Deno.remove(dir, { recursive: true });
    }
  });
}
