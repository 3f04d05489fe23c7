/**
 * No test or bench run reaches outside this machine by default: the CLI turns the DHT on with the public routers,
 * so every place that starts it must go through the test kit (`test/helpers/cli.ts`: `--no-dht` unless the run
 * names its own nodes), and with `ACTORRENT_NO_DEFAULT_ROUTERS` set a run that would contact a default router
 * refuses to start.
 */

import assert from "node:assert/strict";
import { cliArgs, runCli } from "../helpers/cli.ts";
import { NO_DEFAULT_ROUTERS } from "../../cli/dht_options.ts";
import { testTorrent } from "../helpers/make_torrent.ts";

const ROOT = new URL("../../", import.meta.url);

Deno.test("every test and bench file that starts our CLI does it through the test kit", async () => {
  const offenders: string[] = [];
  const walk = async (dir: string) => {
    for await (const e of Deno.readDir(new URL(dir, ROOT))) {
      const path = dir + e.name;
      if (e.isDirectory) await walk(`${path}/`);
      else if (e.name.endsWith(".ts") && path !== "test/helpers/cli.ts") {
        const text = await Deno.readTextFile(new URL(path, ROOT));
        const startsCli = /mod\.ts`|mod\.ts"|\bMOD\b/.test(text) && text.includes("Deno.execPath()") &&
          text.includes(`"run"`);
        if (startsCli && !/\bcli(Args|Command)\(|runCli\(/.test(text)) offenders.push(path);
      }
    }
  };
  await walk("test/");
  await walk("bench/");
  assert.deepEqual(offenders, []);
});

Deno.test("the kit adds --no-dht unless a run names its DHT nodes", () => {
  assert.equal(cliArgs(["a.torrent", "out"]).at(-1), "--no-dht");
  assert(!cliArgs(["a.torrent", "out", "--dht-bootstrap", "127.0.0.1:1"]).includes("--no-dht"));
  assert.equal(Deno.env.get(NO_DEFAULT_ROUTERS), "1", "children inherit the guard");
});

Deno.test("a CLI run that would contact the default routers stops with one line when the guard is set", async () => {
  const { torrent } = await testTorrent({ size: 1000, pieceLength: 16384 });
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeFile(`${dir}/t.torrent`, torrent);
    // Through the kit but with the DHT explicitly left on: only the guard stands between the run and the routers.
    const out = await new Deno.Command(Deno.execPath(), {
      args: cliArgs([`${dir}/t.torrent`, `${dir}/out`, "--no-dht"]).filter((a) => a !== "--no-dht"),
      env: { [NO_DEFAULT_ROUTERS]: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 1);
    assert.match(
      stderr,
      /^error: this run would contact the DHT's default routers.*--dht-bootstrap or --no-dht\n$/,
    );
    const fine = await runCli([`${dir}/t.torrent`, `${dir}/out`, "--no-peers-timeout", "1", "-q"]);
    assert.doesNotMatch(fine.stderr, /default routers/, "with --no-dht it runs (and finds no peer)");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
