/**
 * Encryption with real clients (127.0.0.1 only): our client downloads from a libtorrent seeder that forces RC4
 * and from aria2c requiring encryption; a libtorrent leecher that forces RC4 downloads from our `seed`; with
 * `--encryption require` we take nothing from a plaintext-only libtorrent, and by default we download from it.
 */

import assert from "node:assert/strict";
import { addressOnly } from "./shapes.ts";
import {
  finished,
  installed,
  Program,
  runCli,
  startAria2,
  startLibtorrent,
  startLibtorrentLeecher,
  startOurSeed,
} from "./swarm.ts";
import { runCli as runOnce } from "../helpers/cli.ts";
import { freePort, waitForPort } from "../helpers/ports.ts";

const ready = installed("aria2c") && installed("mktorrent") &&
  new Deno.Command("/usr/bin/python3", { args: ["-c", "import libtorrent"] }).outputSync().success;

Deno.test({
  name:
    "encryption: forced-RC4 libtorrent and crypto-requiring aria2c serve us; a forced-RC4 libtorrent leecher gets our seed",
  ignore: !ready,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    const { work, shape, seedDir, torrentPath, payload } = await addressOnly("enc-", "s256k.bin");
    const fromSeeder = async (seeder: Program, args: string[] = []) => {
      const out = `${work}/dl-${crypto.randomUUID()}/${shape.name}`;
      const r = await runCli([torrentPath, out, "--peer", `127.0.0.1:${seeder.port}`, "-v", ...args]);
      return { ...r, out };
    };
    const programs: Program[] = [];
    try {
      await t.step("from libtorrent forcing RC4, over RC4", async () => {
        const lt = await startLibtorrent(torrentPath, seedDir, 0, "forced");
        programs.push(lt);
        const r = await fromSeeder(lt);
        assert.equal(r.code, 0, r.text);
        assert.deepEqual(await Deno.readFile(r.out), payload);
        assert.match(r.text, /→ connected\.\w+ \[tcp rc4\]/);
      });
      await t.step("from aria2c requiring encryption (arc4)", async () => {
        const aria = await startAria2(torrentPath, seedDir, 0, [
          "--bt-require-crypto=true",
          "--bt-min-crypto-level=arc4",
        ]);
        programs.push(aria);
        const r = await fromSeeder(aria);
        assert.equal(r.code, 0, r.text);
        assert.deepEqual(await Deno.readFile(r.out), payload);
        assert.match(r.text, /\[tcp rc4\]/);
      });
      await t.step(
        "require takes nothing from plaintext-only libtorrent; the default downloads from it",
        async () => {
          const lt = await startLibtorrent(torrentPath, seedDir, 0, "disabled");
          programs.push(lt);
          // The kit's runner, not the suite's: that one gives every run 30 s without peers.
          const out = `${work}/strict/${shape.name}`;
          const strict = await runOnce([
            torrentPath,
            out,
            ...["--peer", `127.0.0.1:${lt.port}`, "--encryption", "require", "--no-peers-timeout", "3", "-v"],
            ...["--port", String(freePort())],
          ]);
          assert.equal(strict.code, 1, strict.stderr);
          assert.match(strict.stderr, /encryption handshake failed/);
          const size = await Deno.stat(out).then((s) => s.size, () => 0);
          const bytes = size ? await Deno.readFile(out) : new Uint8Array(0);
          assert.ok(bytes.every((b) => b === 0), "not a byte of the payload arrived");
          const relaxed = await fromSeeder(lt);
          assert.equal(relaxed.code, 0, relaxed.text);
          assert.deepEqual(await Deno.readFile(relaxed.out), payload);
          assert.match(relaxed.text, /\[tcp plain\]/);
        },
      );
      await t.step("a libtorrent leecher forcing RC4 downloads from our seed", async () => {
        const seed = startOurSeed(torrentPath, `${seedDir}/${shape.name}`);
        programs.push(seed);
        const port = seed.port!;
        await waitForPort(port, 30_000);
        const out = `${work}/lt-${crypto.randomUUID()}`;
        const leecher = startLibtorrentLeecher(torrentPath, out, `127.0.0.1:${port}`, {
          LT_ENCRYPTION: "forced",
        });
        programs.push(leecher.program);
        await finished(leecher);
        assert.deepEqual(await Deno.readFile(`${out}/${shape.name}`), payload);
      });
    } finally {
      for (const p of programs) await p.stop();
      await Deno.remove(work, { recursive: true });
    }
  },
});
