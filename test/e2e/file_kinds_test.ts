/**
 * Files as the torrent says: zero-length files are created (nested ones too), padding files (BEP 47, `attr` p)
 * are never created, pieces made only of padding are never asked for, and `attr` x makes a file executable.
 */

import assert from "node:assert/strict";
import { startDownload } from "../../actors/client.ts";
import { paddingPieces, parseMetainfo } from "../../src/metainfo/metainfo.ts";
import { runCli } from "../helpers/cli.ts";
import { makeTorrent, payload } from "../helpers/make_torrent.ts";
import { startSeeder } from "../helpers/scripted_seeder.ts";

const PIECE = 32 * 1024;

async function paddedTorrent() {
  const a = payload(40_000, 71), b = payload(70_000, 72);
  const pad = (n: number) => new Uint8Array(n);
  const files = [
    { path: ["a.bin"], data: a },
    { path: [".pad", "24768"], data: pad(PIECE - 40_000 % PIECE), attr: "p" }, // b starts on a piece
    { path: ["b.bin"], data: b },
    { path: [".pad", "100000"], data: pad(3 * PIECE - 70_000 % PIECE), attr: "p" }, // two whole pieces of zeros
    { path: ["empty.dat"], data: pad(0) },
    { path: ["sub", "__init__.py"], data: pad(0) },
    { path: ["c.bin"], data: payload(1000, 73), attr: "x" },
  ];
  const { torrent, data } = await makeTorrent({ name: "kinds", files, pieceLength: PIECE, multiFile: true });
  return { torrent, data, meta: await parseMetainfo(torrent), a, b };
}

Deno.test("zero-length files are created, padding files are not, and padding-only pieces are never requested", async () => {
  const { meta, data, a, b } = await paddedTorrent();
  assert.deepEqual(paddingPieces(meta), [5, 6], "the second padding file holds two whole pieces");
  const seeder = startSeeder({ infoHash: meta.infoHash, data, pieceLength: PIECE });
  const dir = await Deno.makeTempDir();
  try {
    const result = await startDownload(meta, {
      out: `${dir}/kinds`,
      peers: [{ host: "127.0.0.1", port: seeder.port }],
      listen: false,
    }).done;
    assert(result.ok, result.error);
    assert.deepEqual(await Deno.readFile(`${dir}/kinds/a.bin`), a);
    assert.deepEqual(await Deno.readFile(`${dir}/kinds/b.bin`), b);
    assert.equal((await Deno.stat(`${dir}/kinds/empty.dat`)).size, 0);
    assert.equal((await Deno.stat(`${dir}/kinds/sub/__init__.py`)).size, 0);
    await assert.rejects(Deno.stat(`${dir}/kinds/.pad`), Deno.errors.NotFound, "no padding on disk");
    assert(!seeder.served.has(5) && !seeder.served.has(6), "padding-only pieces were never asked for");
    assert(seeder.served.has(4), "the piece with b's end and padding was");
    assert.equal((await Deno.stat(`${dir}/kinds/c.bin`)).mode! & 0o100, 0o100, "attr x: executable");
    assert.equal((await Deno.stat(`${dir}/kinds/a.bin`)).mode! & 0o100, 0, "the others are not");
  } finally {
    await seeder.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("info lists neither padding files nor their bytes", async () => {
  const { torrent, a, b } = await paddedTorrent();
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeFile(`${dir}/k.torrent`, torrent);
    const r = await runCli(["info", `${dir}/k.torrent`, "--no-scrape"]);
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stdout, /\.pad/);
    assert.match(r.stdout, new RegExp(`\\(${a.length + b.length + 1000} bytes\\)`));
    assert.match(r.stdout, /^files: +5$/m);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("BEP 47 links: created (relative) when the target is inside the torrent's folder, else left out with one warning", async () => {
  const data = payload(50_000, 81);
  const files = [
    { path: ["bin", "tool"], data, attr: "x" },
    { path: ["tool-link"], data: new Uint8Array(0), attr: "l", symlink: ["bin", "tool"] },
    { path: ["bin", "escape"], data: new Uint8Array(0), attr: "l", symlink: ["..", "..", "etc", "passwd"] },
    { path: ["hidden.txt"], data: payload(10, 82), attr: "h" },
  ];
  const { torrent, data: all } = await makeTorrent({
    name: "links",
    files,
    pieceLength: PIECE,
    multiFile: true,
  });
  const meta = await parseMetainfo(torrent);
  assert.deepEqual(meta.warnings, [
    `left out the symbolic link "bin/escape": its target "../../etc/passwd" is not inside the torrent's folder`,
  ]);
  const seeder = startSeeder({ infoHash: meta.infoHash, data: all, pieceLength: PIECE });
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeFile(`${dir}/l.torrent`, torrent);
    const r = await runCli([`${dir}/l.torrent`, `${dir}/out`, "--peer", `127.0.0.1:${seeder.port}`, "-q"]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr.match(/^warning: .*bin\/escape.*$/gm)?.length, 1, r.stderr);
    assert.equal(await Deno.readLink(`${dir}/out/tool-link`), "bin/tool");
    assert.deepEqual(await Deno.readFile(`${dir}/out/tool-link`), data, "the link leads to the file");
    await assert.rejects(Deno.lstat(`${dir}/out/bin/escape`), Deno.errors.NotFound);
    assert.deepEqual(
      await Deno.readFile(`${dir}/out/hidden.txt`),
      files[3].data,
      "attr h: an ordinary file here",
    );
    // Run again over the finished folder: the link is already there and stays.
    const again = await runCli([
      `${dir}/l.torrent`,
      `${dir}/out`,
      "--peer",
      `127.0.0.1:${seeder.port}`,
      "-q",
    ]);
    assert.equal(again.code, 0, again.stderr);
    const info = await runCli(["info", `${dir}/l.torrent`, "--no-scrape"]);
    assert.match(info.stdout, /^ +link {2}tool-link → bin\/tool$/m);
  } finally {
    await seeder.close();
    await Deno.remove(dir, { recursive: true });
  }
});
