import assert from "node:assert/strict";
import { type Metainfo, parseMetainfo } from "../../src/metainfo/metainfo.ts";
import { windowsSafe } from "../../src/storage/paths.ts";
import { FileStorage } from "../../src/storage/storage.ts";
import { makeTorrent, payload } from "../helpers/make_torrent.ts";

async function multi() {
  const files = [
    { path: ["a.bin"], data: payload(40_000, 1) },
    { path: ["sub", "b.bin"], data: payload(30_001, 2) },
  ];
  const { torrent, data } = await makeTorrent({ name: "m", files, pieceLength: 32768 });
  return { meta: await parseMetainfo(torrent), data, files };
}

Deno.test("FileStorage writes a piece that spans two files into both, and reads it back", async () => {
  const { meta, data, files } = await multi();
  const dir = await Deno.makeTempDir();
  try {
    const { storage, existed } = await FileStorage.open(meta, `${dir}/m`);
    assert.equal(existed, false);
    assert.ok((await Deno.stat(`${dir}/m/sub`)).isDirectory, "folders are made at once");
    assert.equal(
      await Deno.stat(`${dir}/m/sub/b.bin`).catch(() => null),
      null,
      "files only when first written",
    );
    await storage.write(32768, data.subarray(32768, 65536)); // piece 1: end of a.bin, start of sub/b.bin
    assert.deepEqual(await storage.read(32768, 32768), data.subarray(32768, 65536));
    assert.equal((await Deno.stat(`${dir}/m/sub/b.bin`)).size, 30_001, "made at its full length");
    await storage.sync();
    storage.close();
    assert.deepEqual((await Deno.readFile(`${dir}/m/a.bin`)).subarray(32768), files[0].data.subarray(32768));
    assert.deepEqual(
      (await Deno.readFile(`${dir}/m/sub/b.bin`)).subarray(0, 65536 - 40_000),
      files[1].data.subarray(0, 65536 - 40_000),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("FileStorage refuses to write through a symbolic link inside the output folder", async () => {
  const { meta } = await multi();
  const dir = await Deno.makeTempDir();
  try {
    await Deno.mkdir(`${dir}/m`);
    await Deno.mkdir(`${dir}/elsewhere`);
    await Deno.symlink(`${dir}/elsewhere`, `${dir}/m/sub`);
    await assert.rejects(
      FileStorage.open(meta, `${dir}/m`),
      /refusing to write through the symbolic link .*\/m\/sub$/,
    );
    assert.deepEqual([...Deno.readDirSync(`${dir}/elsewhere`)], [], "nothing written behind the link");
    assert.deepEqual(
      [...Deno.readDirSync(`${dir}/m`)].map((e) => e.name),
      ["sub"],
      "no file created before refusing",
    );
    await Deno.remove(`${dir}/m/sub`);
    await Deno.writeTextFile(`${dir}/target`, "precious");
    await Deno.symlink(`${dir}/target`, `${dir}/m/a.bin`);
    await assert.rejects(FileStorage.open(meta, `${dir}/m`), /symbolic link .*\/m\/a.bin$/);
    assert.equal(await Deno.readTextFile(`${dir}/target`), "precious");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("windowsSafe() renames reserved device names, forbidden characters and trailing dots", () => {
  assert.equal(windowsSafe("CON"), "_CON");
  assert.equal(windowsSafe("nul.txt"), "_nul.txt");
  assert.equal(windowsSafe("com1.tar.gz"), "_com1.tar.gz");
  assert.equal(windowsSafe("console"), "console");
  assert.equal(windowsSafe('a<b>c:d"e|f?g*h'), "a_b_c_d_e_f_g_h");
  assert.equal(windowsSafe("name. ."), "name___");
  assert.equal(windowsSafe("ordinary.txt"), "ordinary.txt");
});

Deno.test("FileStorage refuses a file longer than the torrent says rather than cut it short", async () => {
  const { meta } = await multi();
  const dir = await Deno.makeTempDir();
  try {
    await Deno.mkdir(`${dir}/m`);
    await Deno.writeFile(`${dir}/m/a.bin`, new Uint8Array(40_001).fill(1));
    await assert.rejects(
      FileStorage.open(meta, `${dir}/m`),
      /a.bin holds 40001 bytes, more than the torrent's 40000/,
    );
    assert.equal((await Deno.stat(`${dir}/m/a.bin`)).size, 40_001);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("FileStorage flushes every 64 MiB in the background, and its closing sync retries a failed flush", async () => {
  const MiB = 1 << 20;
  const meta = {
    files: [{ path: ["big.bin"], length: 130 * MiB, offset: 0 }],
    multiFile: false,
  } as unknown as Metainfo;
  const dir = await Deno.makeTempDir();
  const original = Deno.FsFile.prototype.syncData;
  const calls: string[] = [];
  let failNext = false;
  let last: Promise<void> = Promise.resolve();
  Deno.FsFile.prototype.syncData = function () {
    calls.push(failNext ? "failed" : "flushed");
    if (failNext) {
      failNext = false;
      return last = Promise.reject(new Error("EIO"));
    }
    return last = original.call(this);
  };
  try {
    const { storage } = await FileStorage.open(meta, `${dir}/big.bin`);
    const chunk = new Uint8Array(MiB).fill(7);
    for (let i = 0; i < 63; i++) await storage.write(i * MiB, chunk);
    assert.deepEqual(calls, [], "nothing flushed before 64 MiB");
    await storage.write(63 * MiB, chunk);
    assert.deepEqual(calls, ["flushed"], "the 64th MiB starts a flush, without waiting for it");
    await last;
    failNext = true;
    for (let i = 64; i < 130; i++) await storage.write(i * MiB, chunk);
    await last.catch(() => {});
    assert.deepEqual(calls, ["flushed", "failed"], "the next 64 MiB start another");
    await storage.sync();
    assert.deepEqual(
      calls,
      ["flushed", "failed", "flushed"],
      "the file the failed flush left dirty is flushed",
    );
    storage.close();
    assert.equal((await Deno.stat(`${dir}/big.bin`)).size, 130 * MiB);
  } finally {
    Deno.FsFile.prototype.syncData = original;
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("FileStorage never creates a padding file (BEP 47): writes over it are dropped, reads give zeros", async () => {
  const { torrent } = await makeTorrent({
    name: "p",
    files: [
      { path: ["a"], data: payload(10, 1) },
      { path: [".pad", "6"], data: new Uint8Array(6), attr: "p" },
      { path: ["b"], data: payload(16, 2) },
    ],
    pieceLength: 16,
  });
  const meta = await parseMetainfo(torrent);
  assert.deepEqual(meta.files.map((f) => f.padding ?? false), [false, true, false]);
  const dir = await Deno.makeTempDir();
  try {
    const { storage } = await FileStorage.open(meta, dir);
    await assert.rejects(Deno.stat(`${dir}/.pad`), Deno.errors.NotFound);
    await storage.write(0, new Uint8Array(32).fill(7)); // a peer's bytes over the padding are not ours to keep
    assert.deepEqual(await storage.read(8, 10), new Uint8Array([7, 7, 0, 0, 0, 0, 0, 0, 7, 7]));
    storage.close();
    assert.equal((await Deno.stat(`${dir}/a`)).size, 10);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** A torrent of `count` files of 1,000 bytes each, in 4,000-byte pieces. */
async function smallFiles(count: number) {
  const files = Array.from(
    { length: count },
    (_, i) => ({ path: [`f${i}.bin`], data: payload(1000, i + 1) }),
  );
  const { torrent, data } = await makeTorrent({ name: "s", files, pieceLength: 4000 });
  return { meta: await parseMetainfo(torrent), data };
}

Deno.test("FileStorage keeps at most maxOpen files open and closes the one used longest ago first", async () => {
  const { meta, data } = await smallFiles(3);
  const dir = await Deno.makeTempDir();
  const opened: string[] = [];
  const original = Deno.openSync;
  Deno.openSync = (path, options) => (opened.push(String(path).split("/").pop()!), original(path, options));
  try {
    const { storage } = await FileStorage.open(meta, `${dir}/s`, 2, 0); // each write at once
    for (const i of [0, 1, 0, 2, 0, 1]) {
      await storage.write(i * 1000, data.subarray(i * 1000, i * 1000 + 1000));
    }
    // f0 and f1 open; f0 used again; f2 takes f1's place (used longest ago), not f0's; f1 comes back for f2's.
    assert.deepEqual(opened, ["f0.bin", "f1.bin", "f2.bin", "f1.bin"]);
    await storage.sync();
    storage.close();
    for (let i = 0; i < 3; i++) {
      assert.deepEqual(await Deno.readFile(`${dir}/s/f${i}.bin`), data.subarray(i * 1000, i * 1000 + 1000));
    }
  } finally {
    Deno.openSync = original;
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("FileStorage's sync flushes files written and closed since, not only the open ones", async () => {
  const { meta, data } = await smallFiles(5);
  const dir = await Deno.makeTempDir();
  const original = Deno.FsFile.prototype.syncData;
  let flushed = 0;
  Deno.FsFile.prototype.syncData = function () {
    flushed++;
    return original.call(this);
  };
  try {
    const { storage } = await FileStorage.open(meta, `${dir}/s`, 1);
    await storage.write(0, data); // five files through one open handle
    await storage.sync();
    assert.equal(flushed, 5, "each written file flushed once");
    await storage.sync();
    assert.equal(flushed, 5, "nothing left to flush");
    storage.close();
  } finally {
    Deno.FsFile.prototype.syncData = original;
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("FileStorage flushes a written file it closes to make room before closing it, not by opening it again", async () => {
  const { meta, data } = await smallFiles(40);
  const dir = await Deno.makeTempDir();
  const originalSync = Deno.FsFile.prototype.syncData, originalOpen = Deno.open;
  let flushes = 0, reopened = 0;
  let release!: () => void;
  const gate = new Promise<void>((r) => release = r);
  Deno.FsFile.prototype.syncData = async function () {
    // The first 32 flushes wait until the whole write is done: that many are in flight at once.
    if (++flushes <= 32) await gate;
    return originalSync.call(this);
  };
  try {
    const { storage } = await FileStorage.open(meta, `${dir}/s`, 1, 0);
    Deno.open = (path, options) => (reopened++, originalOpen(path, options));
    await storage.write(0, data); // forty files through one open handle: 39 closed to make room
    assert.equal(flushes, 32, "each closed file flushed as it is closed, up to 32 at once");
    release();
    await storage.sync();
    assert.equal(flushes, 40, "the 7 closed past the bound and the open one flushed by sync");
    assert.equal(reopened, 7, "only the files closed unflushed are opened again for it");
    storage.close();
    for (const i of [0, 31, 32, 39]) {
      assert.deepEqual(await Deno.readFile(`${dir}/s/f${i}.bin`), data.subarray(i * 1000, i * 1000 + 1000));
    }
  } finally {
    Deno.FsFile.prototype.syncData = originalSync;
    Deno.open = originalOpen;
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("FileStorage's sync flushes again a file whose flush on closing failed", async () => {
  const { meta, data } = await smallFiles(2);
  const dir = await Deno.makeTempDir();
  const original = Deno.FsFile.prototype.syncData;
  const flushed: string[] = [];
  Deno.FsFile.prototype.syncData = function () {
    if (flushed.push(flushed.length === 0 ? "failed" : "flushed") === 1) {
      return Promise.reject(new Error("EIO"));
    }
    return original.call(this);
  };
  try {
    const { storage } = await FileStorage.open(meta, `${dir}/s`, 1);
    await storage.write(0, data); // f0 closed to make room for f1: its flush fails
    await storage.sync();
    assert.deepEqual(flushed, ["failed", "flushed", "flushed"], "f0 flushed again, and f1");
    storage.close();
  } finally {
    Deno.FsFile.prototype.syncData = original;
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("FileStorage makes a file sparse at its full length first, unless the first write reaches its end", async () => {
  const { meta, data } = await smallFiles(3);
  const dir = await Deno.makeTempDir();
  const original = Deno.FsFile.prototype.truncateSync;
  let truncates = 0;
  Deno.FsFile.prototype.truncateSync = function (length?: number) {
    truncates++;
    return original.call(this, length);
  };
  try {
    // The setup makes f0 (an output that cannot be written fails at once); f1 and f2 are made by their writes.
    const { storage } = await FileStorage.open(meta, `${dir}/s`, 128, 0);
    await storage.write(2000, data.subarray(2000, 3000)); // f2 whole at once
    assert.equal(truncates, 0, "no truncate for a file one write fills");
    await storage.write(1000, data.subarray(1000, 1500)); // f1's first half
    assert.equal(truncates, 1);
    assert.equal((await Deno.stat(`${dir}/s/f1.bin`)).size, 1000, "at its full length from the first write");
    await storage.write(1500, data.subarray(1500, 2000));
    await storage.write(0, data.subarray(0, 1000));
    assert.equal(truncates, 1);
    storage.close();
    for (let i = 0; i < 3; i++) {
      assert.deepEqual(await Deno.readFile(`${dir}/s/f${i}.bin`), data.subarray(i * 1000, i * 1000 + 1000));
    }
  } finally {
    Deno.FsFile.prototype.truncateSync = original;
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("FileStorage gathers small writes that continue one another, in order, written before a read, a sync or a close", async () => {
  const K16 = 16 * 1024;
  const meta = {
    files: [{ path: ["t.bin"], length: 64 * K16, offset: 0 }],
    multiFile: false,
  } as unknown as Metainfo;
  const dir = await Deno.makeTempDir();
  const expected = new Uint8Array(64 * K16);
  const piece = (fill: number) => new Uint8Array(K16).fill(fill);
  const original = Deno.FsFile.prototype.writeSync;
  const writes: number[] = [];
  let failNext = false;
  Deno.FsFile.prototype.writeSync = function (p: Uint8Array) {
    if (failNext) {
      failNext = false;
      throw new Error("ENOSPC");
    }
    writes.push(p.length / K16);
    return original.call(this, p);
  };
  // The first offset where they differ (-1: none): a failing deepEqual of a MiB would print for minutes.
  const differs = (a: Uint8Array, b: Uint8Array) =>
    a.length !== b.length ? a.length : a.findIndex((x, k) => x !== b[k]);
  const put = async (storage: FileStorage, i: number, fill: number) => {
    const data = piece(fill);
    expected.set(data, i * K16);
    await storage.write(i * K16, data);
    data.fill(0xee); // the caller reuses its buffer at once
  };
  try {
    const { storage } = await FileStorage.open(meta, `${dir}/t.bin`);
    for (let i = 0; i < 16; i++) await put(storage, i, i + 1);
    assert.deepEqual(writes, [16], "16 pieces of 16 KiB in one write, once 256 KiB were held");
    await put(storage, 16, 17);
    await put(storage, 17, 18);
    assert.deepEqual(writes, [16], "held");
    assert.equal(differs(await storage.read(17 * K16, K16), expected.subarray(17 * K16, 18 * K16)), -1);
    assert.deepEqual(writes, [16, 2], "a read writes what is held first");
    await put(storage, 30, 1);
    await put(storage, 30, 2); // the same piece again: the first copy must not land over it
    await storage.write(32 * K16, new Uint8Array(4 * K16).fill(3)); // a large write goes at once, after the held
    expected.fill(3, 32 * K16, 36 * K16);
    await put(storage, 32, 4); // a small one over the large one's start
    await storage.sync();
    assert.deepEqual(writes, [16, 2, 1, 1, 4, 1]);
    await put(storage, 50, 5);
    storage.writeHeld();
    assert.deepEqual(writes, [16, 2, 1, 1, 4, 1, 1], "written when asked, before pieces are reported");
    await put(storage, 51, 6);
    storage.close(); // writes what is held
    assert.equal(
      differs(await Deno.readFile(`${dir}/t.bin`), expected),
      -1,
      "every byte, the last write last",
    );

    const again = (await FileStorage.open(meta, `${dir}/t.bin`)).storage;
    await put(again, 60, 6);
    failNext = true;
    await assert.rejects(
      again.sync(),
      /ENOSPC/,
      "a held write's failure is thrown by the call that writes it",
    );
    again.close();
    const third = (await FileStorage.open(meta, `${dir}/t.bin`)).storage;
    await put(third, 61, 7);
    failNext = true;
    await assert.rejects(put(third, 63, 8), /ENOSPC/, "the next write, which wrote the held one first");
    await assert.rejects(
      third.sync(),
      /ENOSPC/,
      "piece 61 was lost: no sync may say the data is on the disk",
    );
    assert.throws(() => third.writeHeld(), /ENOSPC/, "nor may any later piece be reported verified");
    third.close();
  } finally {
    Deno.FsFile.prototype.writeSync = original;
    await Deno.remove(dir, { recursive: true });
  }
});
