import assert from "node:assert/strict";
import { autoPieceLength, collectFiles, encodeTorrent, hashPieces } from "../../src/metainfo/create.ts";
import { parseMetainfo } from "../../src/metainfo/metainfo.ts";
import { concat } from "../../src/common/bytes.ts";
import { parsePieceSize } from "../../cli/create.ts";
import { payload, pieceHashes } from "../helpers/make_torrent.ts";

async function tree(dir: string, files: Record<string, Uint8Array>) {
  for (const [path, data] of Object.entries(files)) {
    await Deno.mkdir(`${dir}/${path}`.replace(/\/[^/]+$/, ""), { recursive: true });
    await Deno.writeFile(`${dir}/${path}`, data);
  }
}

Deno.test("create: a folder's files sorted by path, empty ones in, hidden ones out, hashed as one stream", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const files = {
      "src/z.bin": payload(50_000, 1),
      "src/a/b.bin": payload(16_384, 2),
      "src/a/empty": new Uint8Array(0),
      "src/B.txt": payload(7, 3),
      "src/.git/HEAD": payload(5, 4),
      "src/a/.hidden": payload(5, 5),
    };
    await tree(dir, files);
    await Deno.symlink(`${dir}/src`, `${dir}/src/a/loop`);
    const collected = await collectFiles(`${dir}/src`);
    assert.deepEqual(collected.files.map((f) => f.path.join("/")), ["B.txt", "a/b.bin", "a/empty", "z.bin"]);
    assert.deepEqual(collected.skipped, { hidden: 2, special: 0, loops: 1 });
    const pieces = await hashPieces(collected.files, 16384);
    const torrent = encodeTorrent(collected, 16384, pieces, {
      trackers: [["http://t1/a", "udp://t2:1"], ["http://t3/a"]],
      webSeeds: ["http://w/"],
      private: true,
      source: "SRC",
    });
    const meta = await parseMetainfo(torrent);
    const data = concat([files["src/B.txt"], files["src/a/b.bin"], files["src/z.bin"]]);
    assert.deepEqual(meta.pieceHashes, await pieceHashes(data, 16384));
    assert.equal(meta.name, "src");
    assert.equal(meta.totalLength, data.length);
    assert.deepEqual(meta.trackers, [["http://t1/a", "udp://t2:1"], ["http://t3/a"]]);
    assert.deepEqual(meta.webSeeds, ["http://w/"]);
    assert.equal(meta.private, true);
    const withHidden = await collectFiles(`${dir}/src`, { includeHidden: true });
    assert.equal(withHidden.files.length, 6);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("create: a single file, and the same files always make the same infohash without a date", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const data = payload(100_001, 7);
    await Deno.writeFile(`${dir}/one.iso`, data);
    const make = async () => {
      const c = await collectFiles(`${dir}/one.iso`);
      return parseMetainfo(
        encodeTorrent(c, 32768, await hashPieces(c.files, 32768), { trackers: [["http://t/a"]] }),
      );
    };
    const [a, b] = [await make(), await make()];
    assert.equal(a.multiFile, false);
    assert.equal(a.name, "one.iso");
    assert.deepEqual(a.pieceHashes, await pieceHashes(data, 32768));
    assert.equal(a.infoHashHex, b.infoHashHex);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("create: automatic piece sizes give 1,000 to 2,000 pieces between 16 KiB and 16 MiB", () => {
  assert.equal(autoPieceLength(1000), 16384);
  for (const total of [40e6, 700e6, 4.7e9, 30e9]) {
    const piece = autoPieceLength(total);
    const count = Math.ceil(total / piece);
    assert.ok(count >= 1000 && count <= 2000, `${total}: ${count} pieces of ${piece}`);
  }
  assert.equal(autoPieceLength(1e12), 16 * 1024 * 1024, "capped");
  assert.equal(parsePieceSize("256K"), 262144);
  assert.equal(parsePieceSize("4MiB"), 4 << 20);
  assert.equal(parsePieceSize("32768"), 32768);
  for (const bad of ["1000", "8K", "128M", "3M", "big"]) {
    assert.throws(() => parsePieceSize(bad), /power of two/);
  }
});
