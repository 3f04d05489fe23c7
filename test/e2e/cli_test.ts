import assert from "node:assert/strict";
import { parseMetainfo } from "../../src/metainfo/metainfo.ts";
import { makeTorrent, payload } from "../helpers/make_torrent.ts";
import { startSeeder } from "../helpers/scripted_seeder.ts";
import { unusedPort } from "../helpers/ports.ts";
import { startUdpTracker } from "../helpers/udp_test_tracker.ts";
import bencode from "bencode";
import { cliCommand as cli, runCli as run } from "../helpers/cli.ts";

function assertOneLineError(stderr: string, pattern: RegExp) {
  const lines = stderr.trim().split("\n").filter((l) => l !== "Try --help.");
  assert.equal(lines.length, 1, `one line, got: ${stderr}`);
  assert.match(lines[0], /^error: /);
  assert.match(lines[0], pattern);
  assert.doesNotMatch(stderr, /^\s+at /m, "no stack trace");
}

Deno.test("CLI --help prints the usage and exits 0", async () => {
  const r = await run(["--help"]);
  assert.equal(r.code, 0);
  assert.match(r.stdout, /Usage: deno run -A mod.ts <file.torrent \| magnet:\?…> <out>/);
});

Deno.test("CLI without arguments or with a bad option exits 2 with one line", async () => {
  const a = await run([]);
  assert.equal(a.code, 2);
  assertOneLineError(a.stderr, /expected <file.torrent or magnet link> and <out>/);
  const b = await run(["x.torrent", "out", "--port", "99999"]);
  assert.equal(b.code, 2);
  assertOneLineError(b.stderr, /--port must be a whole number from 1 to 65535/);
  const c = await run(["x.torrent", "out", "--frobnicate"]);
  assert.equal(c.code, 2);
  assertOneLineError(c.stderr, /frobnicate/);
});

Deno.test("CLI reports a missing or malformed torrent in one line and exits 1", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const missing = await run([`${dir}/nope.torrent`, `${dir}/out`]);
    assert.equal(missing.code, 1);
    assertOneLineError(missing.stderr, /cannot read .*nope.torrent/);
    await Deno.writeTextFile(`${dir}/bad.torrent`, "d4:infod4:name3:abc12:piece lengthi0eee");
    const bad = await run([`${dir}/bad.torrent`, `${dir}/out`]);
    assert.equal(bad.code, 1);
    assertOneLineError(bad.stderr, /Cannot parse torrent: "info.piece length" must be positive/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

async function fixture() {
  const pieceLength = 32 * 1024;
  const { torrent, data } = await makeTorrent({
    name: "cli.bin",
    files: [{ path: ["cli.bin"], data: payload(1_000_003, 4) }],
    pieceLength,
  });
  const dir = await Deno.makeTempDir();
  await Deno.writeFile(`${dir}/cli.torrent`, torrent);
  return { dir, data, meta: await parseMetainfo(torrent), pieceLength };
}

Deno.test("CLI downloads from a peer given with --peer, verifies and exits 0", async () => {
  const f = await fixture();
  const seeder = startSeeder({ infoHash: f.meta.infoHash, data: f.data, pieceLength: f.pieceLength });
  try {
    const r = await run([`${f.dir}/cli.torrent`, f.dir, "--peer", `127.0.0.1:${seeder.port}`, "--quiet"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^Done: .*cli.bin .*all 31 pieces verified/);
    // <out> is an existing folder: the single file goes inside it under the torrent's name.
    assert.deepEqual(await Deno.readFile(`${f.dir}/cli.bin`), f.data);
  } finally {
    await seeder.close();
    await Deno.remove(f.dir, { recursive: true });
  }
});

Deno.test("CLI gives up with one line when no peer connects in time", async () => {
  const f = await fixture();
  const port = unusedPort();
  try {
    const r = await run([
      `${f.dir}/cli.torrent`,
      `${f.dir}/o`,
      "--peer",
      `127.0.0.1:${port}`,
      "--no-peers-timeout",
      "2",
      "-q",
    ]);
    assert.equal(r.code, 1);
    assertOneLineError(r.stderr, /no peer connected for 2 s \(last tracker error: no tracker\)/);
  } finally {
    await Deno.remove(f.dir, { recursive: true });
  }
});

Deno.test("CLI stops cleanly on Ctrl-C and exits 130", async () => {
  const f = await fixture();
  const seeder = startSeeder({
    infoHash: f.meta.infoHash,
    data: f.data,
    pieceLength: f.pieceLength,
    neverUnchoke: true,
  });
  try {
    const child = cli([`${f.dir}/cli.torrent`, `${f.dir}/o`, "--peer", `127.0.0.1:${seeder.port}`]).spawn();
    while (seeder.connections === 0) await new Promise((r) => setTimeout(r, 50));
    Deno.kill(child.pid, "SIGINT");
    const out = await child.output();
    assert.equal(out.code, 130);
    assert.match(new TextDecoder().decode(out.stderr), /Stopped: 0 B verified and kept in/);
  } finally {
    await seeder.close();
    await Deno.remove(f.dir, { recursive: true });
  }
});

Deno.test("CLI reports an output path it cannot create in one line and exits 1", async () => {
  const f = await fixture();
  try {
    await Deno.writeTextFile(`${f.dir}/file.txt`, "in the way");
    const r = await run([`${f.dir}/cli.torrent`, `${f.dir}/file.txt/sub/cli.bin`, "-q"]);
    assert.equal(r.code, 1);
    assertOneLineError(r.stderr, /cannot open the output: /);
    assert.equal(await Deno.readTextFile(`${f.dir}/file.txt`), "in the way");
  } finally {
    await Deno.remove(f.dir, { recursive: true });
  }
});

Deno.test("CLI seed refuses incomplete data in one line and exits 1", async () => {
  const f = await fixture();
  try {
    const partial = f.data.slice(0, 100_000);
    await Deno.writeFile(`${f.dir}/cli.bin`, partial);
    const r = await run(["seed", `${f.dir}/cli.torrent`, `${f.dir}/cli.bin`, "--port", "23456", "-q"]);
    assert.equal(r.code, 1);
    assertOneLineError(r.stderr, /cannot seed: only 3 of 31 pieces are on disk and verified/);
  } finally {
    await Deno.remove(f.dir, { recursive: true });
  }
});

Deno.test("CLI info prints a torrent's facts and each tracker's scrape counts (UDP here)", async () => {
  const { torrent } = await makeTorrent({
    name: "info.bin",
    files: [{ path: ["info.bin"], data: payload(100_000, 9) }],
    pieceLength: 16384,
  });
  const tracker = await startUdpTracker([], {}, { seeders: 12, completed: 34, leechers: 5 });
  const dir = await Deno.makeTempDir();
  try {
    const dict = bencode.decode(torrent) as Record<string, unknown>;
    dict["announce-list"] = [[tracker.url], ["wss://unsupported.example/announce"]];
    const path = `${dir}/info.torrent`;
    await Deno.writeFile(path, bencode.encode(dict));
    const meta = await parseMetainfo(await Deno.readFile(path));
    const r = await run(["info", path]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`infohash: +${meta.infoHashHex}`));
    assert.match(r.stdout, /pieces: +7 × 16.0 KiB/);
    assert.match(r.stdout, new RegExp(`tier 1: ${tracker.url} +seeders 12, leechers 5, completed 34`));
    assert.match(r.stdout, /tier 2: wss:\/\/unsupported.example\/announce +\(unsupported scheme\)/);
    const m = await run([
      "info",
      `magnet:?xt=urn:btih:${meta.infoHashHex}&dn=x&x.pe=127.0.0.1:7`,
      "--no-scrape",
    ]);
    assert.equal(m.code, 0, m.stderr);
    assert.match(m.stdout, /peers: +127.0.0.1:7/);
    const bad = await run(["info", "magnet:?dn=nothing"]);
    assert.equal(bad.code, 1);
    assertOneLineError(bad.stderr, /Cannot parse magnet link: no xt=urn:btih: infohash/);
  } finally {
    tracker.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("CLI downloads a magnet link and --save-torrent writes a .torrent with the same infohash", async () => {
  const pieceLength = 32 * 1024;
  const { torrent, data } = await makeTorrent({
    name: "mag.bin",
    files: [{ path: ["mag.bin"], data: payload(500_000, 13) }],
    pieceLength,
  });
  const meta = await parseMetainfo(torrent);
  const seeder = startSeeder({ infoHash: meta.infoHash, data, pieceLength, metadata: meta.rawInfo });
  const dir = await Deno.makeTempDir();
  try {
    const magnet = `magnet:?xt=urn:btih:${meta.infoHashHex}&dn=mag.bin&x.pe=127.0.0.1:${seeder.port}`;
    const r = await run([
      magnet,
      dir,
      "--save-torrent",
      `${dir}/saved.torrent`,
      "--port",
      String(21000 + Math.floor(Math.random() * 5000)),
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(await Deno.readFile(`${dir}/mag.bin`), data);
    const saved = await parseMetainfo(await Deno.readFile(`${dir}/saved.torrent`));
    assert.equal(saved.infoHashHex, meta.infoHashHex);
    assert.match(r.stderr, /fetching metadata/);
  } finally {
    await seeder.close();
    await Deno.remove(dir, { recursive: true });
  }
});
