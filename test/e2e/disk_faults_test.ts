/**
 * Disk faults on small tmpfs mounts (needs root; skipped elsewhere): a full disk ends the download with one line
 * and keeps the verified pieces, and a rerun once space is freed fetches only what is missing; a read-only output
 * is one line too.
 */

import assert from "node:assert/strict";
import { checkPieces } from "../../src/storage/check.ts";
import { parseMetainfo } from "../../src/metainfo/metainfo.ts";
import { MemoryStorage } from "../../src/storage/storage.ts";
import { makeTorrent, payload } from "../helpers/make_torrent.ts";
import { startSeeder } from "../helpers/scripted_seeder.ts";
import { runCli as run } from "../helpers/cli.ts";

function mount(dir: string, options: string): boolean {
  return new Deno.Command("mount", { args: ["-t", "tmpfs", "-o", options, "tmpfs", dir], stderr: "null" })
    .outputSync().success;
}
function umount(dir: string) {
  new Deno.Command("umount", { args: [dir], stderr: "null" }).outputSync();
}

const canMount = (() => {
  if (Deno.build.os !== "linux") return false;
  const dir = Deno.makeTempDirSync();
  const ok = mount(dir, "size=64k");
  if (ok) umount(dir);
  Deno.removeSync(dir);
  return ok;
})();

Deno.test({
  name: "a full disk stops the download with one line, keeps verified pieces, and a rerun resumes",
  ignore: !canMount,
  async fn() {
    const pieceLength = 32 * 1024;
    const { torrent, data } = await makeTorrent({
      name: "big.bin",
      files: [{ path: ["big.bin"], data: payload(1024 * 1024 + 17, 21) }],
      pieceLength,
    });
    const meta = await parseMetainfo(torrent);
    const seeder = startSeeder({ infoHash: meta.infoHash, data, pieceLength });
    const work = await Deno.makeTempDir();
    const disk = `${work}/disk`;
    await Deno.mkdir(disk);
    assert(mount(disk, "size=512k"));
    try {
      await Deno.writeFile(`${work}/t.torrent`, torrent);
      const args = [`${work}/t.torrent`, `${disk}/big.bin`, "--peer", `127.0.0.1:${seeder.port}`, "-q"];
      const full = await run(args);
      assert.equal(full.code, 1);
      const lines = full.stderr.trim().split("\n");
      assert.equal(lines.length, 1, full.stderr);
      assert.match(lines[0], /^error: cannot write piece \d+: No space left on device/);

      // What was verified before the disk filled is still there.
      const kept = new MemoryStorage(meta.totalLength);
      await kept.write(0, await Deno.readFile(`${disk}/big.bin`));
      const have = await checkPieces(meta, kept);
      assert(have.count > 0, "some pieces were kept");
      const servedBefore = new Map(seeder.served);

      assert(new Deno.Command("mount", { args: ["-o", "remount,size=4m", disk] }).outputSync().success);
      const again = await run(args);
      assert.equal(again.code, 0, again.stderr);
      assert.deepEqual(await Deno.readFile(`${disk}/big.bin`), data);
      const refetched = [...seeder.served.keys()].filter((i) =>
        have.has(i) && seeder.served.get(i) !== servedBefore.get(i)
      );
      assert.deepEqual(refetched, [], "no kept piece fetched again");
    } finally {
      await seeder.close();
      umount(disk);
      await Deno.remove(work, { recursive: true });
    }
  },
});

Deno.test({
  name: "a read-only output is one line and exit 1",
  ignore: !canMount,
  async fn() {
    const { torrent } = await makeTorrent({
      name: "x",
      files: [{ path: ["x"], data: payload(1000, 1) }],
      pieceLength: 16384,
    });
    const work = await Deno.makeTempDir();
    const disk = `${work}/ro`;
    await Deno.mkdir(disk);
    assert(mount(disk, "ro,size=64k"));
    try {
      await Deno.writeFile(`${work}/t.torrent`, torrent);
      const r = await run([`${work}/t.torrent`, `${disk}/x`, "-q"]);
      assert.equal(r.code, 1);
      assert.match(r.stderr.trim(), /^error: cannot open the output: Read-only file system/);
      assert.equal(r.stderr.trim().split("\n").length, 1);
    } finally {
      umount(disk);
      await Deno.remove(work, { recursive: true });
    }
  },
});
