import assert from "node:assert/strict";
import { parseMetainfo } from "../../src/metainfo/metainfo.ts";
import { startDownload } from "../../actors/client.ts";
import { makeTorrent, payload } from "../helpers/make_torrent.ts";
import { startSeeder } from "../helpers/scripted_seeder.ts";
import { startTracker } from "../helpers/test_tracker.ts";

Deno.test("download() fetches a single-file torrent from two seeders found through the tracker", async () => {
  const pieceLength = 256 * 1024;
  const { torrent, data } = await makeTorrent({
    name: "single.bin",
    files: [{ path: ["single.bin"], data: payload(3 * 1024 * 1024 + 12345, 7) }],
    pieceLength,
    announce: "http://placeholder/announce",
  });
  const meta0 = await parseMetainfo(torrent);
  const seeders = [0, 1].map(() => startSeeder({ infoHash: meta0.infoHash, data, pieceLength }));
  const tracker = startTracker(seeders.map((s) => ({ host: "127.0.0.1", port: s.port })));
  const meta = { ...meta0, trackers: [[tracker.url]] };
  const dir = await Deno.makeTempDir();
  try {
    const result = await startDownload(meta, { out: `${dir}/single.bin`, port: 20001, maxPeers: 120 }).done;
    assert(result.ok, result.error);
    assert.deepEqual(await Deno.readFile(`${dir}/single.bin`), data);
    const events = tracker.announces.map((a) => a.get("event"));
    assert.deepEqual(events[0], "started");
    assert.equal(tracker.announces[0].get("numwant"), "120", "as many peers asked for as it may connect to");
    // completed once, then stopped as the client leaves; both with nothing left to download
    assert.deepEqual(events.slice(-2), ["completed", "stopped"]);
    assert.equal(events.filter((e) => e === "completed").length, 1);
    assert.deepEqual(tracker.announces.slice(-2).map((a) => a.get("left")), ["0", "0"]);
  } finally {
    await Promise.all(seeders.map((s) => s.close()));
    await tracker.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("download() splits pieces across the files of a multi-file torrent", async () => {
  const pieceLength = 32 * 1024;
  const files = [
    { path: ["a.txt"], data: payload(50_000, 1) },
    { path: ["empty"], data: new Uint8Array(0) },
    { path: ["sub", "b.bin"], data: payload(100_001, 2) },
    { path: ["sub", "deeper", "c"], data: payload(7, 3) },
  ];
  const { torrent, data } = await makeTorrent({ name: "multi", files, pieceLength });
  const meta = await parseMetainfo(torrent);
  const seeder = startSeeder({ infoHash: meta.infoHash, data, pieceLength });
  const dir = await Deno.makeTempDir();
  try {
    const result = await startDownload(meta, {
      out: `${dir}/multi`,
      peers: [{ host: "127.0.0.1", port: seeder.port }],
    }).done;
    assert(result.ok, result.error);
    for (const f of files) assert.deepEqual(await Deno.readFile(`${dir}/multi/${f.path.join("/")}`), f.data);
  } finally {
    await seeder.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("download() bans a peer whose pieces fail the hash and finishes from the others", async () => {
  const pieceLength = 64 * 1024;
  const { torrent, data } = await makeTorrent({
    name: "x.bin",
    files: [{ path: ["x.bin"], data: payload(40 * pieceLength, 9) }],
    pieceLength,
  });
  const meta = await parseMetainfo(torrent);
  const all = new Set(Array.from({ length: 40 }, (_, i) => i));
  const liar = startSeeder({ infoHash: meta.infoHash, data, pieceLength, corruptPieces: all });
  const honest = startSeeder({ infoHash: meta.infoHash, data, pieceLength });
  const dir = await Deno.makeTempDir();
  try {
    const result = await startDownload(meta, {
      out: `${dir}/x.bin`,
      peers: [{ host: "127.0.0.1", port: liar.port }, { host: "127.0.0.1", port: honest.port }],
    }).done;
    assert(result.ok, result.error);
    assert.deepEqual(await Deno.readFile(`${dir}/x.bin`), data);
    const entry = result.book.get(`127.0.0.1:${liar.port}`)!;
    assert(entry.banned, "the corrupting peer is banned");
    // Banned at the third strike; pieces it had in flight then may add strikes, never an unban.
    assert.equal(entry.lastReason, "banned after 3 corrupt pieces");
    assert(entry.strikes >= 3);
    assert(result.stats!.hashFailures >= 3);
  } finally {
    await Promise.all([liar.close(), honest.close()]);
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("download() drops a peer that answers the handshake for another infohash", async () => {
  const pieceLength = 32 * 1024;
  const { torrent, data } = await makeTorrent({
    name: "h.bin",
    files: [{ path: ["h.bin"], data: payload(10 * pieceLength + 5, 5) }],
    pieceLength,
  });
  const meta = await parseMetainfo(torrent);
  const stranger = startSeeder({
    infoHash: meta.infoHash,
    data,
    pieceLength,
    answerInfoHash: new Uint8Array(20),
  });
  const honest = startSeeder({ infoHash: meta.infoHash, data, pieceLength });
  const dir = await Deno.makeTempDir();
  try {
    const result = await startDownload(meta, {
      out: `${dir}/h.bin`,
      peers: [{ host: "127.0.0.1", port: stranger.port }, { host: "127.0.0.1", port: honest.port }],
    }).done;
    assert(result.ok, result.error);
    assert.deepEqual(await Deno.readFile(`${dir}/h.bin`), data);
    assert.equal(
      result.book.get(`127.0.0.1:${stranger.port}`)!.lastReason,
      "peer answered for another infohash",
    );
    assert.equal(stranger.served.size, 0, "no block was requested from it");
  } finally {
    await Promise.all([stranger.close(), honest.close()]);
    await Deno.remove(dir, { recursive: true });
  }
});
