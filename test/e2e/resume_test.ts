import assert from "node:assert/strict";
import { startDownload } from "../../actors/client.ts";
import { parseMetainfo } from "../../src/metainfo/metainfo.ts";
import { Bitfield } from "../../src/common/bitfield.ts";
import { MemoryStorage } from "../../src/storage/storage.ts";
import { makeTorrent, payload } from "../helpers/make_torrent.ts";
import { startSeeder } from "../helpers/scripted_seeder.ts";

const PIECE = 32 * 1024;
const PIECES = 24;

async function setup() {
  const { torrent, data } = await makeTorrent({
    name: "r.bin",
    files: [{ path: ["r.bin"], data: payload(PIECES * PIECE - 333, 6) }],
    pieceLength: PIECE,
  });
  const dir = await Deno.makeTempDir();
  return { meta: await parseMetainfo(torrent), data, dir, out: `${dir}/r.bin` };
}

const firstHalf = new Set(Array.from({ length: PIECES / 2 }, (_, i) => i));

/** Downloads what a seeder of only the first half has, then stops cleanly as Ctrl-C would. */
async function downloadHalfAndStop(t: Awaited<ReturnType<typeof setup>>) {
  const half = startSeeder({
    infoHash: t.meta.infoHash,
    data: t.data,
    pieceLength: PIECE,
    pieces: firstHalf,
  });
  try {
    const session = startDownload(t.meta, { out: t.out, peers: [{ host: "127.0.0.1", port: half.port }] });
    while (session.progress().verifiedPieces < firstHalf.size) await new Promise((r) => setTimeout(r, 20));
    session.stop();
    const result = await session.done;
    assert.equal(result.stopped, true);
  } finally {
    await half.close();
  }
}

Deno.test("a rerun after a clean stop fetches only the missing pieces", async () => {
  const t = await setup();
  const full = startSeeder({ infoHash: t.meta.infoHash, data: t.data, pieceLength: PIECE });
  try {
    await downloadHalfAndStop(t);
    const result = await startDownload(t.meta, {
      out: t.out,
      peers: [{ host: "127.0.0.1", port: full.port }],
    }).done;
    assert(result.ok, result.error);
    assert.deepEqual(await Deno.readFile(t.out), t.data);
    const refetched = [...full.served.keys()].filter((i) => firstHalf.has(i));
    assert.deepEqual(refetched, [], "no verified piece fetched twice");
    assert.equal(full.served.size, PIECES / 2);

    // Complete data: the rerun verifies from the record and never dials the peer.
    const before = full.connections;
    const again = await startDownload(t.meta, { out: t.out, peers: [{ host: "127.0.0.1", port: full.port }] })
      .done;
    assert(again.ok, again.error);
    assert.equal(again.stats?.verifiedPieces, PIECES);
    assert.equal(full.connections, before);
  } finally {
    await full.close();
    await Deno.remove(t.dir, { recursive: true });
  }
});

Deno.test("check: true finds damage the resume record cannot see, and the piece is fetched again", async () => {
  const t = await setup();
  const full = startSeeder({ infoHash: t.meta.infoHash, data: t.data, pieceLength: PIECE });
  try {
    await downloadHalfAndStop(t);
    // Damage piece 3 behind the record's back: same size, same modification time.
    const { mtime, atime } = await Deno.stat(t.out);
    const f = await Deno.open(t.out, { write: true });
    await f.seek(3 * PIECE + 100, Deno.SeekMode.Start);
    await f.write(new Uint8Array([t.data[3 * PIECE + 100] ^ 0xff]));
    f.close();
    await Deno.utime(t.out, atime!, mtime!);

    const result = await startDownload(t.meta, {
      out: t.out,
      check: true,
      peers: [{ host: "127.0.0.1", port: full.port }],
    }).done;
    assert(result.ok, result.error);
    assert.deepEqual(await Deno.readFile(t.out), t.data);
    assert.deepEqual([...full.served.keys()].filter((i) => firstHalf.has(i)), [3]);
  } finally {
    await full.close();
    await Deno.remove(t.dir, { recursive: true });
  }
});

Deno.test("a rerun without a resume record checks the data and resumes all the same", async () => {
  const t = await setup();
  const full = startSeeder({ infoHash: t.meta.infoHash, data: t.data, pieceLength: PIECE });
  try {
    await downloadHalfAndStop(t);
    await Deno.remove(`${t.out}.resume.json`);
    const result = await startDownload(t.meta, {
      out: t.out,
      peers: [{ host: "127.0.0.1", port: full.port }],
    }).done;
    assert(result.ok, result.error);
    assert.deepEqual(await Deno.readFile(t.out), t.data);
    assert.deepEqual([...full.served.keys()].filter((i) => firstHalf.has(i)), []);
  } finally {
    await full.close();
    await Deno.remove(t.dir, { recursive: true });
  }
});

Deno.test("a valid resume record spares the hash check; check: true reads every piece anyway", async () => {
  const t = await setup();
  try {
    for (const check of [false, true]) {
      const storage = new MemoryStorage(t.meta.totalLength);
      await storage.write(0, t.data);
      let reads = 0;
      const read = storage.read.bind(storage), readInto = storage.readInto.bind(storage);
      storage.read = (o, l) => (reads++, read(o, l));
      storage.readInto = (o, into) => (reads++, readInto(o, into));
      const all = new Bitfield(t.meta.pieceCount);
      for (let i = 0; i < t.meta.pieceCount; i++) all.set(i);
      const result = await startDownload(t.meta, {
        storage: () => Promise.resolve({ storage, existed: true }),
        resume: { load: () => Promise.resolve(all), save: () => Promise.resolve() },
        check,
      }).done;
      assert(result.ok, result.error);
      assert.equal(reads, check ? PIECES : 0);
    }
  } finally {
    await Deno.remove(t.dir, { recursive: true });
  }
});
