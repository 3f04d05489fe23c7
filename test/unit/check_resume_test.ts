import assert from "node:assert/strict";
import { createActor, toPromise } from "xstate";
import { finishJob } from "../../actors/torrent_context.ts";
import type { AnnounceSubject, TrackerSetup } from "../../actors/tracker.ts";
import type { LocalPieces } from "../../src/pieces/local_pieces.ts";
import { Bitfield } from "../../src/common/bitfield.ts";
import { allZero, checkPieces } from "../../src/storage/check.ts";
import { parseMetainfo } from "../../src/metainfo/metainfo.ts";
import { FileResume, resumePath, type ResumeStore } from "../../src/storage/resume.ts";
import { FileStorage, MemoryStorage } from "../../src/storage/storage.ts";
import { makeTorrent, payload } from "../helpers/make_torrent.ts";

const PIECE = 16384;

Deno.test("allZero() looks at every byte, whatever the alignment", () => {
  const buf = new Uint8Array(100);
  for (const [start, end] of [[0, 100], [3, 97], [1, 2], [5, 5]]) {
    assert.equal(allZero(buf.subarray(start, end)), true);
  }
  for (let i = 0; i < 100; i++) {
    buf[i] = 1;
    assert.equal(allZero(buf.subarray(3, 97)), i < 3 || i >= 97, `byte ${i}`);
    buf[i] = 0;
  }
});

/** Pieces 0-1 random, piece 2 genuinely all zeros, piece 3 random and short. */
async function torrent() {
  const data = new Uint8Array(3 * PIECE + 1000);
  data.set(payload(2 * PIECE, 8));
  data.set(payload(1000, 9), 3 * PIECE);
  const { torrent } = await makeTorrent({ name: "z", files: [{ path: ["z"], data }], pieceLength: PIECE });
  return { meta: await parseMetainfo(torrent), data };
}

Deno.test("checkPieces() finds the pieces whose hash matches, a piece of real zeros included", async () => {
  const { meta, data } = await torrent();
  const storage = new MemoryStorage(data.length);
  await storage.write(0, data);
  storage.data[PIECE + 7] ^= 1; // piece 1 damaged
  const have = await checkPieces(meta, storage);
  assert.deepEqual([0, 1, 2, 3].map((i) => have.has(i)), [true, false, true, true]);
});

Deno.test("checkPieces() skips never-written files without reading them, yet knows a zero piece is whole", async () => {
  const { meta } = await torrent();
  const dir = await Deno.makeTempDir();
  try {
    const { storage } = await FileStorage.open(meta, `${dir}/z`);
    assert.equal(storage.unwritten(0, meta.totalLength), true);
    let reads = 0;
    const read = storage.read.bind(storage);
    storage.read = (o, l) => (reads++, read(o, l));
    const have = await checkPieces(meta, storage);
    storage.close();
    assert.equal(reads, 0);
    assert.deepEqual([0, 1, 2, 3].map((i) => have.has(i)), [false, false, true, false]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("FileResume vouches for the pieces it saved only while the files are untouched", async () => {
  const { meta } = await torrent();
  const dir = await Deno.makeTempDir();
  const file = `${dir}/z`;
  const resume = new FileResume(resumePath(file), [file]);
  try {
    assert.equal(await resume.load(meta), undefined, "no record yet");
    await Deno.writeFile(file, new Uint8Array(meta.totalLength));
    const have = new Bitfield(meta.pieceCount);
    have.set(0);
    have.set(3);
    await resume.save(meta, have);
    assert.deepEqual((await resume.load(meta))?.bytes, have.bytes);
    assert.deepEqual(
      [...Deno.readDirSync(dir)].map((e) => e.name).sort(),
      ["z", "z.resume.json"],
      "no temp file left",
    );

    await Deno.utime(file, new Date(), new Date(Date.now() + 5000));
    assert.equal(await resume.load(meta), undefined, "modified since");
    await resume.save(meta, have);
    await Deno.truncate(file, meta.totalLength - 1);
    assert.equal(await resume.load(meta), undefined, "size changed");
    await Deno.truncate(file, meta.totalLength);
    await resume.save(meta, have);
    assert.equal(await resume.load({ ...meta, infoHashHex: "00".repeat(20) }), undefined, "another torrent");
    await Deno.writeTextFile(resumePath(file), '{"version":1,"infoHash":');
    assert.equal(await resume.load(meta), undefined, "damaged record");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("FileResume given the flush writes its record only once the flush succeeded, and none if it failed", async () => {
  const { meta } = await torrent();
  const dir = await Deno.makeTempDir();
  const file = `${dir}/z`;
  const resume = new FileResume(resumePath(file), [file]);
  try {
    await Deno.writeFile(file, new Uint8Array(meta.totalLength));
    const have = new Bitfield(meta.pieceCount);
    have.set(2);
    const failed = resume.saveOnceFlushed(meta, have, Promise.reject(new Error("disk full")));
    await assert.rejects(failed, /disk full/);
    assert.equal(await resume.load(meta), undefined, "no record for data that may not be on disk");
    let flush!: () => void;
    const saving = resume.saveOnceFlushed(meta, have, new Promise<void>((resolve) => flush = resolve));
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(await resume.load(meta), undefined, "nothing written while the flush runs");
    flush();
    await saving;
    assert.deepEqual((await resume.load(meta))?.bytes, have.bytes);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("FileResume keeps a record of files not made yet (never written), and voids it once one appears", async () => {
  const { meta } = await torrent();
  const dir = await Deno.makeTempDir();
  const [made, notYet, folder] = [`${dir}/a`, `${dir}/b`, `${dir}/c`];
  const resume = new FileResume(resumePath(made), [made, notYet]);
  try {
    await Deno.writeFile(made, new Uint8Array(10));
    const have = new Bitfield(meta.pieceCount);
    have.set(1);
    await resume.save(meta, have);
    assert.deepEqual(
      (await resume.load(meta))?.bytes,
      have.bytes,
      "a stopped download resumes from the record",
    );
    await Deno.writeFile(notYet, new Uint8Array(10));
    assert.equal(await resume.load(meta), undefined, "a file that appeared since");
    await Deno.mkdir(folder);
    const odd = new FileResume(resumePath(made), [made, folder]);
    await odd.save(meta, have);
    assert.equal(await odd.load(meta), undefined, "a folder where a file should be vouches for nothing");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("finishing: a resume store without saveOnceFlushed saves after the flush succeeded, never after a failed one", async () => {
  const { meta } = await torrent();
  const order: string[] = [];
  const store: ResumeStore = {
    load: () => Promise.resolve(undefined),
    save: () => (order.push("saved"), Promise.resolve()),
  };
  const finish = (storage: MemoryStorage) =>
    toPromise(
      createActor(finishJob, {
        input: {
          storage,
          meta,
          ours: { have: new Bitfield(meta.pieceCount) } as unknown as LocalPieces,
          resume: store,
          trackers: {} as TrackerSetup,
          subject: {} as AnnounceSubject,
          events: [],
        },
      }).start(),
    );
  let flush!: () => void;
  const slow = new MemoryStorage(meta.totalLength);
  slow.sync = () => new Promise<void>((resolve) => flush = () => (order.push("flushed"), resolve()));
  const finishing = finish(slow);
  await new Promise((r) => setTimeout(r, 30));
  assert.deepEqual(order, [], "nothing saved while the flush runs");
  flush();
  await finishing;
  assert.deepEqual(order, ["flushed", "saved"]);
  order.length = 0;
  const failing = new MemoryStorage(meta.totalLength);
  failing.sync = () => Promise.reject(new Error("EIO"));
  await assert.rejects(finish(failing), /EIO/);
  assert.deepEqual(order, [], "no record after a failed flush");
});
