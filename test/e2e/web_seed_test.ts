/**
 * Web seeds (BEP 19) against a local HTTP server: alone with no tracker and no peer, beside a peer, in a
 * multi-file torrent with padding, and through the failures a server can have (404, 503 with Retry-After,
 * redirects, corrupt, short and long bodies).
 */

import assert from "node:assert/strict";
import { createActor, toPromise } from "xstate";
import { startDownload } from "../../actors/client.ts";
import { type FetchedPiece, fetchRun, type WebSeedOptions } from "../../actors/web_seed.ts";
import { parseMetainfo } from "../../src/metainfo/metainfo.ts";
import { MemoryStorage } from "../../src/storage/storage.ts";
import { makeTorrent, payload } from "../helpers/make_torrent.ts";
import { startSeeder } from "../helpers/scripted_seeder.ts";
import { runCli } from "../helpers/cli.ts";
import { freePort } from "../helpers/ports.ts";
import { type ServerMode, startWebSeedServer, type WebSeedServer } from "../helpers/web_seed_server.ts";

const PIECE = 32 * 1024;
const FAST: WebSeedOptions = { retryMs: 50, maxRetryMs: 1500, idleTimeoutMs: 3000 };

/** Downloads into memory from the given web seeds (and peers); returns the result and the bytes. */
async function download(
  torrent: Uint8Array,
  opts: { peers?: number[]; webSeeds?: WebSeedOptions; noPeersTimeoutMs?: number } = {},
) {
  const meta = await parseMetainfo(torrent);
  const storage = new MemoryStorage(meta.totalLength);
  const result = await startDownload(meta, {
    storage: () => Promise.resolve({ storage, existed: false }),
    peers: (opts.peers ?? []).map((port) => ({ host: "127.0.0.1", port })),
    listen: false,
    webSeeds: { ...FAST, ...opts.webSeeds },
    noPeersTimeoutMs: opts.noPeersTimeoutMs ?? 20_000,
  }).done;
  return { result, bytes: storage.data, meta };
}

async function singleFile(size: number, mode: ServerMode = "ok", extra: string[] = []) {
  const data = payload(size, 5);
  const server = startWebSeedServer(new Map([["t.bin", data]]), mode);
  const { torrent } = await makeTorrent({
    name: "t.bin",
    files: [{ path: ["t.bin"], data }],
    pieceLength: PIECE,
    webSeeds: [`${server.url}t.bin`, ...extra],
  });
  return { data, server, torrent };
}

const closing = async (...servers: WebSeedServer[]) => {
  for (const s of servers) await s.close();
};

Deno.test("a torrent with only a web seed, no tracker and no peer, downloads byte for byte", async () => {
  const { data, server, torrent } = await singleFile(40 * PIECE + 123);
  try {
    const { result, bytes } = await download(torrent);
    assert(result.ok, result.error);
    assert.deepEqual(bytes, data);
    assert.ok((server.statuses.get(206) ?? 0) >= 1);
    assert.equal(server.bytesSent, data.length, "every byte fetched once");
  } finally {
    await closing(server);
  }
});

Deno.test("a run of 6 MiB hands over its first 4 MiB of whole pieces before it ends, every byte once", async () => {
  const { data, server, torrent } = await singleFile(192 * PIECE + 77);
  try {
    const meta = await parseMetainfo(torrent);
    const early: FetchedPiece[][] = [];
    let ended = false;
    const actor = createActor(fetchRun, {
      input: {
        url: `${server.url}t.bin`,
        meta,
        first: 1,
        count: 192,
        idleTimeoutMs: 3000,
        deliver: (pieces) => void (!ended && early.push(pieces)),
      },
    }).start();
    const out = await toPromise(actor);
    ended = true;
    assert.equal(early.length, 1, "one hand-over on the way");
    assert.ok(
      early[0].length >= 128 && early[0].length < 192,
      `4 MiB of 32 KiB pieces or a chunk more: ${early[0].length}`,
    );
    const all = [...early.flat(), ...out.pieces];
    assert.deepEqual(
      all.map((p) => p.index),
      Array.from({ length: 192 }, (_, k) => 1 + k),
      "in order, each once",
    );
    for (const p of all) assert.deepEqual(p.data, data.subarray(p.index * PIECE, (p.index + 1) * PIECE));
    assert.equal(out.bytes, 191 * PIECE + 77, "the last piece of the torrent is short");
  } finally {
    await closing(server);
  }
});

Deno.test("a multi-file web seed: files under base/name/, encoded paths, padding never asked for", async () => {
  const a = payload(40_000, 1), b = payload(70_000, 2);
  const files = [
    { path: ["a b.bin"], data: a },
    { path: [".pad", "24768"], data: new Uint8Array(PIECE - 40_000 % PIECE), attr: "p" },
    { path: ["sub", "ü#.bin"], data: b },
    { path: ["empty.dat"], data: new Uint8Array(0) },
  ];
  const server = startWebSeedServer(new Map([["m/a b.bin", a], ["m/sub/ü#.bin", b]]));
  try {
    const { torrent, data } = await makeTorrent({
      name: "m",
      files,
      pieceLength: PIECE,
      webSeeds: [server.url],
    });
    const { result, bytes } = await download(torrent);
    assert(result.ok, result.error);
    assert.deepEqual(bytes, data);
    assert.deepEqual([...server.paths].sort(), ["m/a b.bin", "m/sub/ü#.bin"]);
  } finally {
    await closing(server);
  }
});

Deno.test("a web seed and a peer share the download", async () => {
  const { data, server, torrent } = await singleFile(200 * PIECE);
  // On loopback the web seed alone could fetch all 6.4 MiB before the peer's handshake: slow it to 4 MiB/s.
  server.chunkDelayMs = 4;
  const meta = await parseMetainfo(torrent);
  const seeder = startSeeder({ infoHash: meta.infoHash, data, pieceLength: PIECE, blockDelayMs: 2 });
  try {
    const { result, bytes } = await download(torrent, { peers: [seeder.port] });
    assert(result.ok, result.error);
    assert.deepEqual(bytes, data);
    assert.ok(server.bytesSent > 0, "the web seed gave some");
    assert.ok(seeder.served.size > 0, "the peer gave some");
  } finally {
    await seeder.close();
    await closing(server);
  }
});

Deno.test("503 and 429 are waited out (Retry-After), redirects followed", async () => {
  for (const mode of ["503", "429"] as const) {
    const { data, server, torrent } = await singleFile(10 * PIECE);
    server.failNext = 2;
    server.failMode = mode;
    try {
      const at = Date.now();
      const { result, bytes } = await download(torrent);
      assert(result.ok, `${mode}: ${result.error}`);
      assert.deepEqual(bytes, data);
      assert.equal(server.statuses.get(Number(mode)), 2);
      assert.ok(Date.now() - at >= 1900, "Retry-After: 1 honoured twice");
    } finally {
      await closing(server);
    }
  }
  const { data, server, torrent } = await singleFile(10 * PIECE, "redirect");
  try {
    const { result, bytes } = await download(torrent);
    assert(result.ok, result.error);
    assert.deepEqual(bytes, data);
    assert.ok((server.statuses.get(302) ?? 0) >= 1);
  } finally {
    await closing(server);
  }
});

Deno.test("a 404 web seed is dropped, and alone it ends the download with its reason", async () => {
  const { server, torrent } = await singleFile(4 * PIECE, "404");
  try {
    const at = Date.now();
    const { result } = await download(torrent, { noPeersTimeoutMs: 1000 });
    assert.equal(result.ok, false);
    assert.match(
      result.error!,
      /no peer connected for 1 s \(web seed http:\/\/127\.0\.0\.1:\d+\/t\.bin: .*404/,
    );
    assert.equal(server.statuses.get(404), 1, "asked once, never again");
    assert.ok(Date.now() - at < 10_000);
  } finally {
    await closing(server);
  }
});

Deno.test("a corrupting web seed is struck out and a good one finishes; bad bodies are never written", async () => {
  for (const bad of ["corrupt", "short", "long", "ignore-range"] as const) {
    const data = payload(30 * PIECE, 9);
    const good = startWebSeedServer(new Map([["t.bin", data]]));
    const evil = startWebSeedServer(new Map([["t.bin", data]]), bad);
    try {
      const { torrent } = await makeTorrent({
        name: "t.bin",
        files: [{ path: ["t.bin"], data }],
        pieceLength: PIECE,
        webSeeds: [`${evil.url}t.bin`, `${good.url}t.bin`],
      });
      const { result, bytes } = await download(torrent);
      assert(result.ok, `${bad}: ${result.error}`);
      assert.deepEqual(bytes, data, bad);
      const asked = [...evil.statuses.values()].reduce((a, b) => a + b, 0);
      assert.ok(asked >= 1 && asked <= 5, `${bad}: the bad seed was dropped (asked ${asked} times)`);
    } finally {
      await closing(good, evil);
    }
  }
});

Deno.test("the CLI downloads a web-seed-only torrent, info lists its web seeds, -v shows a dropped one", async () => {
  const { data, server, torrent } = await singleFile(20 * PIECE + 5, "ok", ["http://127.0.0.1:9/gone.bin"]);
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeFile(`${dir}/t.torrent`, torrent);
    const info = await runCli(["info", `${dir}/t.torrent`, "--no-scrape"]);
    assert.equal(info.code, 0, info.stderr);
    assert.match(
      info.stdout,
      new RegExp(`web seeds:\\n  ${server.url}t\\.bin\\n  http://127\\.0\\.0\\.1:9/gone\\.bin`),
    );
    const trace = `${dir}/run.jsonl`;
    const r = await runCli([
      `${dir}/t.torrent`,
      `${dir}/out.bin`,
      "-v",
      "--port",
      String(freePort()),
      "--trace",
      trace,
    ]);
    assert.equal(r.code, 0, r.stderr);
    // The trace (and so the live view and replay) has each web seed as an actor with its transitions.
    const records = (await Deno.readTextFile(trace)).trim().split("\n").map((l) => JSON.parse(l));
    const seeds = records.filter((x) => x.kind === "actor" && x.machine === "webSeed");
    assert.equal(seeds.length, 2, "one actor per web seed");
    const ids = new Set(seeds.map((x) => x.id));
    assert.ok(records.some((x) => x.kind === "transition" && ids.has(x.id) && x.to === "requesting"));
    assert.deepEqual(await Deno.readFile(`${dir}/out.bin`), data);
    assert.match(r.stderr, /web seed http:\/\/127\.0\.0\.1:9\/gone\.bin → (backingOff|failed) \(/);
    assert.match(r.stderr, new RegExp(`web seed ${server.url}t\\.bin → requesting`));
  } finally {
    await closing(server);
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("--no-web-seeds leaves the web seeds alone", async () => {
  const { server, torrent } = await singleFile(4 * PIECE);
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeFile(`${dir}/t.torrent`, torrent);
    const r = await runCli([
      `${dir}/t.torrent`,
      `${dir}/out.bin`,
      "--no-web-seeds",
      "--no-peers-timeout",
      "1",
    ]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /no peer connected for 1 s/);
    assert.equal(server.paths.size, 0, "the server was never asked");
  } finally {
    await closing(server);
    await Deno.remove(dir, { recursive: true });
  }
});
