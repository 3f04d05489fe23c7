/**
 * The fast extension (BEP 6) and ut_metadata (BEP 9) against scripted peers: rejected requests are asked again,
 * a peer that rejects the same block twice is dropped, our seeder greets a fast peer with have-all and answers a
 * request it will not serve with reject, and metadata that fails the infohash check is fetched again elsewhere.
 */

import assert from "node:assert/strict";
import { startDownload } from "../../actors/client.ts";
import { decodeExtHandshake } from "../../src/wire/extension.ts";
import { FrameReader } from "../../src/wire/frame_reader.ts";
import { parseMagnet } from "../../src/metainfo/magnet.ts";
import {
  decodeHandshake,
  decodeMessage,
  encodeHandshake,
  encodeMessage,
  HANDSHAKE_LENGTH,
  type Message,
  ourReserved,
  supports,
} from "../../src/wire/wire.ts";
import { testTorrent } from "../helpers/make_torrent.ts";
import { memoryStorage } from "../helpers/storage.ts";
import { listeningPort, memorySeeder } from "../helpers/sessions.ts";
import { startSeeder } from "../helpers/scripted_seeder.ts";

const PIECE = 32 * 1024;

Deno.test("fast extension: rejected requests are asked again, and we greet with have-none", async () => {
  const { meta, data } = await testTorrent({
    size: 20 * PIECE + 99,
    pieceLength: PIECE,
    seed: 51,
    name: "f.bin",
  });
  const seeder = startSeeder({
    infoHash: meta.infoHash,
    data,
    pieceLength: PIECE,
    fast: true,
    rejectFirst: 5,
  });
  const out = memoryStorage();
  try {
    const result = await startDownload(meta, {
      storage: out.open,
      listen: false,
      peers: [{ host: "127.0.0.1", port: seeder.port }],
    }).done;
    assert(result.ok, result.error);
    assert.deepEqual(out.data(), data);
    assert.equal(seeder.seen[0], "have-none", `first message ${seeder.seen[0]}`);
  } finally {
    await seeder.close();
  }
});

Deno.test("fast extension: a peer that rejects the same block twice is dropped and others serve the piece", async () => {
  const { meta, data } = await testTorrent({
    size: 20 * PIECE + 99,
    pieceLength: PIECE,
    seed: 51,
    name: "f.bin",
  });
  const stubborn = startSeeder({
    infoHash: meta.infoHash,
    data,
    pieceLength: PIECE,
    fast: true,
    rejectPieces: new Set([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20]),
  });
  const good = startSeeder({ infoHash: meta.infoHash, data, pieceLength: PIECE, blockDelayMs: 20 });
  const out = memoryStorage();
  try {
    const result = await startDownload(meta, {
      storage: out.open,
      listen: false,
      peers: [{ host: "127.0.0.1", port: stubborn.port }, { host: "127.0.0.1", port: good.port }],
    }).done;
    assert(result.ok, result.error);
    assert.deepEqual(out.data(), data);
    assert.match(
      result.book.get(`127.0.0.1:${stubborn.port}`)?.lastReason ?? "",
      /rejected piece \d+ block \d+ twice/,
    );
  } finally {
    await stubborn.close();
    await good.close();
  }
});

/** Connects to `port` as a fast, extension-speaking peer and returns the messages it receives after the handshake. */
async function rawPeer(port: number, infoHash: Uint8Array, send: Message[], count: number) {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const reader = new FrameReader(1 << 20);
  const write = async (b: Uint8Array) => {
    for (let at = 0; at < b.length;) at += await conn.write(b.subarray(at));
  };
  try {
    await write(encodeHandshake(infoHash, new TextEncoder().encode("-XX0001-rawpeer00000"), ourReserved()));
    let hs;
    while ((hs = reader.take(HANDSHAKE_LENGTH)) === null) reader.filled((await conn.read(reader.space()))!);
    const theirs = decodeHandshake(hs);
    for (const m of send) await write(encodeMessage(m));
    const got: Message[] = [];
    while (got.length < count) {
      let frame;
      while (got.length < count && (frame = reader.next()) !== null) {
        const msg = decodeMessage(frame);
        got.push(msg.type === "extended" ? { ...msg, payload: msg.payload.slice() } : msg);
      }
      if (got.length < count) reader.filled((await conn.read(reader.space()))!);
    }
    return { reserved: theirs.reserved, got };
  } finally {
    conn.close();
  }
}

Deno.test("our seeder greets a fast peer with have-all and its metadata size, and rejects what it will not serve", async () => {
  const { meta, data } = await testTorrent({
    size: 20 * PIECE + 99,
    pieceLength: PIECE,
    seed: 51,
    name: "f.bin",
  });
  const seeder = memorySeeder(meta, data, { uploadSlots: 0 });
  try {
    await listeningPort(seeder);
    // We do not say interested, so we stay choked: the request must be rejected, not ignored.
    const request = { type: "request" as const, index: 3, begin: 0, length: 16384 };
    const { reserved, got } = await rawPeer(seeder.progress().port, meta.infoHash, [request], 3);
    assert(supports(reserved, "fast") && supports(reserved, "extended"));
    assert.equal(got[0].type, "extended");
    const ext = decodeExtHandshake((got[0] as Extract<Message, { type: "extended" }>).payload);
    assert.equal(ext.metadataSize, meta.rawInfo.length);
    assert(ext.m.ut_metadata > 0 && ext.m.ut_pex > 0);
    assert.deepEqual(got[1], { type: "have-all" });
    assert.deepEqual(got[2], { type: "reject", index: 3, begin: 0, length: 16384 });
  } finally {
    seeder.stop();
    await seeder.done;
  }
});

Deno.test("metadata that fails the infohash check is dropped with its sender and fetched from another peer", async () => {
  const { meta, data } = await testTorrent({
    size: 20 * PIECE + 99,
    pieceLength: PIECE,
    seed: 51,
    name: "f.bin",
  });
  const liar = startSeeder({
    infoHash: meta.infoHash,
    data,
    pieceLength: PIECE,
    metadata: meta.rawInfo,
    corruptMetadata: true,
  });
  const honest = startSeeder({
    infoHash: meta.infoHash,
    data,
    pieceLength: PIECE,
    metadata: meta.rawInfo,
    metadataDelayMs: 300,
  });
  const out = memoryStorage();
  try {
    const magnet = parseMagnet(
      `magnet:?xt=urn:btih:${meta.infoHashHex}&x.pe=127.0.0.1:${liar.port}&x.pe=127.0.0.1:${honest.port}`,
    );
    const session = startDownload(magnet, { storage: out.open, listen: false });
    const result = await session.done;
    assert(result.ok, result.error);
    assert.deepEqual(out.data(), data);
    assert.equal(session.meta?.infoHashHex, meta.infoHashHex);
    assert(liar.seen.includes("extended:3"), "the liar was asked for metadata");
    assert(honest.seen.includes("extended:3"), "the honest peer was asked too");
  } finally {
    await liar.close();
    await honest.close();
  }
});
