/** `create` as a user runs it: a torrent of a folder that our client then downloads byte for byte. */

import assert from "node:assert/strict";
import { parseMetainfo } from "../../src/metainfo/metainfo.ts";
import { concat } from "../../src/common/bytes.ts";
import { runCli } from "../helpers/cli.ts";
import { payload } from "../helpers/make_torrent.ts";
import { listeningPort, memorySeeder } from "../helpers/sessions.ts";

Deno.test("create makes a torrent of a folder that downloads into the same tree, empty file included", async () => {
  const dir = await Deno.makeTempDir();
  const a = payload(300_000, 11), b = payload(12_345, 12);
  await Deno.mkdir(`${dir}/tree/docs`, { recursive: true });
  await Deno.writeFile(`${dir}/tree/a.bin`, a);
  await Deno.writeFile(`${dir}/tree/docs/b.txt`, b);
  await Deno.writeFile(`${dir}/tree/docs/__init__.py`, new Uint8Array(0));
  let seeder;
  try {
    const made = await runCli([
      "create",
      `${dir}/tree`,
      "-o",
      `${dir}/t.torrent`,
      "--piece-size",
      "32K",
      "--no-date",
    ]);
    assert.equal(made.code, 0, made.stderr);
    assert.match(made.stderr, /3 files, .* in 10 pieces of 32\.0 KiB, hashed in/);
    const meta = await parseMetainfo(await Deno.readFile(`${dir}/t.torrent`));
    assert.equal(made.stdout.trim(), meta.infoHashHex);
    seeder = memorySeeder(meta, concat([a, b]));
    const port = await listeningPort(seeder);
    const got = await runCli([`${dir}/t.torrent`, `${dir}/out`, "--peer", `127.0.0.1:${port}`, "-q"]);
    assert.equal(got.code, 0, got.stderr);
    assert.deepEqual(await Deno.readFile(`${dir}/out/a.bin`), a);
    assert.deepEqual(await Deno.readFile(`${dir}/out/docs/b.txt`), b);
    assert.equal((await Deno.stat(`${dir}/out/docs/__init__.py`)).size, 0);
  } finally {
    seeder?.stop();
    await seeder?.done;
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("create refuses a missing path, an empty folder and an existing output with one line each", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.mkdir(`${dir}/empty`);
    await Deno.writeFile(`${dir}/exists.torrent`, new Uint8Array(1));
    await Deno.writeFile(`${dir}/f`, payload(100, 1));
    const cases: [string[], RegExp][] = [
      [[`${dir}/missing`, "-o", `${dir}/x.torrent`], /^error: cannot read .*missing: .*\n$/],
      [[`${dir}/empty`, "-o", `${dir}/x.torrent`], /^error: .*empty has no files to put in a torrent\n$/],
      [
        [`${dir}/f`, "-o", `${dir}/exists.torrent`],
        /^error: .*exists\.torrent exists \(--force overwrites it\)\n$/,
      ],
      [[`${dir}/f`], /^error: create needs -o <file\.torrent>\nTry --help\.\n$/],
    ];
    for (const [args, message] of cases) {
      const r = await runCli(["create", ...args]);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, message);
    }
    const forced = await runCli(["create", `${dir}/f`, "-o", `${dir}/exists.torrent`, "--force", "-q"]);
    assert.equal(forced.code, 0, forced.stderr);
    assert.equal((await parseMetainfo(await Deno.readFile(`${dir}/exists.torrent`))).totalLength, 100);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
