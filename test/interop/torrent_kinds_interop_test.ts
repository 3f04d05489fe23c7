/**
 * Torrent kinds with libtorrent (127.0.0.1 only): a hybrid (v1+v2) torrent libtorrent made with its default
 * flags, padding files and an empty file in it, downloads into exactly the source tree; libtorrent, pointed at
 * the data, finds every piece of the torrents our `create` makes.
 */

import assert from "node:assert/strict";
import { parseMetainfo } from "../../src/metainfo/metainfo.ts";
import { runCli as runCreate } from "../helpers/cli.ts";
import { payload } from "../helpers/make_torrent.ts";
import { freePort, waitForPort } from "../helpers/ports.ts";
import { HERE, Program, runCli } from "./swarm.ts";

const ready =
  new Deno.Command("/usr/bin/python3", { args: ["-c", "import libtorrent"] }).outputSync().success;

async function python(args: string[]): Promise<string> {
  const out = await new Deno.Command("/usr/bin/python3", {
    args,
    cwd: HERE,
    stdout: "piped",
    stderr: "piped",
  })
    .output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  assert(out.success, text);
  return text;
}

/** Every file below `dir` by relative path, with its bytes. */
async function treeOf(dir: string, prefix = ""): Promise<Map<string, Uint8Array>> {
  const out = new Map<string, Uint8Array>();
  for await (const e of Deno.readDir(`${dir}/${prefix}`)) {
    const rel = prefix ? `${prefix}/${e.name}` : e.name;
    if (e.isDirectory) { for (const [k, v] of await treeOf(dir, rel)) out.set(k, v); }
    else out.set(rel, await Deno.readFile(`${dir}/${rel}`));
  }
  return out;
}

async function sourceTree(work: string) {
  await Deno.mkdir(`${work}/src/sub/deeper`, { recursive: true });
  await Deno.writeFile(`${work}/src/a.bin`, payload(100_000, 1));
  await Deno.writeFile(`${work}/src/sub/b.bin`, payload(70_000, 2));
  await Deno.writeFile(`${work}/src/sub/deeper/c.bin`, payload(33_333, 3));
  await Deno.writeFile(`${work}/src/empty.dat`, new Uint8Array(0));
}

Deno.test({
  name: "a libtorrent hybrid torrent (padding files, an empty file) downloads into exactly the source tree",
  ignore: !ready,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const work = await Deno.makeTempDir({ prefix: "kinds-" });
    let seeder: Program | undefined;
    try {
      await sourceTree(work);
      await python(["lt_torrents.py", "make", `${work}/src`, `${work}/h.torrent`, "32768"]);
      const meta = await parseMetainfo(await Deno.readFile(`${work}/h.torrent`));
      assert(meta.files.some((f) => f.padding), "libtorrent's default torrent has padding files");
      const port = freePort();
      seeder = new Program("libtorrent", "/usr/bin/python3", [
        `${HERE}lt_seed.py`,
        `${work}/h.torrent`,
        work,
        String(port),
      ]);
      await waitForPort(port, 30_000);
      const { code, text } = await runCli([
        `${work}/h.torrent`,
        `${work}/out/src`,
        "--peer",
        `127.0.0.1:${port}`,
      ]);
      assert.equal(code, 0, text);
      const want = await treeOf(`${work}/src`), got = await treeOf(`${work}/out/src`);
      assert.deepEqual([...got.keys()].sort(), [...want.keys()].sort(), "the same files, no .pad");
      for (const [path, bytes] of want) assert.deepEqual(got.get(path), bytes, path);
    } finally {
      await seeder?.stop();
      await Deno.remove(work, { recursive: true });
    }
  },
});

Deno.test({
  name: "libtorrent finds every piece of the torrents our create makes present in the data",
  ignore: !ready,
  async fn() {
    const work = await Deno.makeTempDir({ prefix: "kinds-" });
    try {
      await sourceTree(work);
      for (const [path, size] of [["src", "16K"], ["src/a.bin", "32K"]]) {
        const made = await runCreate([
          "create",
          `${work}/${path}`,
          "-o",
          `${work}/o.torrent`,
          "--force",
          "--piece-size",
          size,
        ]);
        assert.equal(made.code, 0, made.stderr);
        const { pieceCount } = await parseMetainfo(await Deno.readFile(`${work}/o.torrent`));
        const saveTo = path === "src" ? work : `${work}/src`;
        const text = await python(["lt_torrents.py", "check", `${work}/o.torrent`, saveTo]);
        assert.match(text, new RegExp(`have ${pieceCount} of ${pieceCount}\\b`), `${path}: ${text}`);
      }
    } finally {
      await Deno.remove(work, { recursive: true });
    }
  },
});
