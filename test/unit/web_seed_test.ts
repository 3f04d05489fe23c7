import assert from "node:assert/strict";
import bencode from "bencode";
import { parseMetainfo } from "../../src/metainfo/metainfo.ts";
import { fileUrl, planRun, RunBuffer } from "../../src/webseed/plan.ts";
import { fetchRange, retryAfterMs, WebSeedError } from "../../src/webseed/http.ts";
import { makeTorrent, payload } from "../helpers/make_torrent.ts";
import { type ServerMode, startWebSeedServer } from "../helpers/web_seed_server.ts";

const HASHES = new Uint8Array(20);

async function withSeeds(top: Record<string, unknown>) {
  return (await parseMetainfo(
    bencode.encode({ ...top, info: { name: "n", "piece length": 16, pieces: HASHES, length: 10 } }),
  )).webSeeds;
}

Deno.test("url-list is read as a string or a list, httpseeds beside it; other schemes and duplicates left out", async () => {
  assert.deepEqual(await withSeeds({ "url-list": "http://a/x" }), ["http://a/x"]);
  assert.deepEqual(
    await withSeeds({
      "url-list": ["https://a/", "ftp://b/", "http://a/x", "", 7],
      httpseeds: ["http://a/x", "http://c/seed"],
    }),
    ["https://a/", "http://a/x", "http://c/seed"],
  );
  assert.deepEqual(await withSeeds({}), []);
});

Deno.test("web seed URLs follow BEP 19: name appended after a slash, multi-file paths encoded per component", () => {
  const single = { name: "a b.iso", multiFile: false };
  const file = { path: ["a b.iso"], length: 1, offset: 0 };
  assert.equal(fileUrl("http://h/pub/", single, file), "http://h/pub/a%20b.iso");
  assert.equal(fileUrl("http://h/pub/x.iso", single, file), "http://h/pub/x.iso");
  const multi = { name: "Dir #1", multiFile: true };
  const inner = { path: ["sub/ä", "50%?.txt"], length: 1, offset: 0 };
  assert.equal(fileUrl("http://h/pub/", multi, inner), "http://h/pub/Dir%20%231/sub%2F%C3%A4/50%25%3F.txt");
  assert.equal(fileUrl("http://h/pub", multi, inner), "http://h/pub/Dir%20%231/sub%2F%C3%A4/50%25%3F.txt");
});

Deno.test("a run of pieces becomes one range request per file it touches, padding never requested", async () => {
  const { torrent } = await makeTorrent({
    name: "m",
    pieceLength: 16,
    files: [
      { path: ["a"], data: payload(20) },
      { path: [".pad", "12"], data: new Uint8Array(12), attr: "p" },
      { path: ["b"], data: payload(30) },
    ],
  });
  const meta = await parseMetainfo(torrent);
  const plan = planRun("http://h/", meta, 1, 3); // bytes 16-61 of 62
  assert.equal(plan.length, 46);
  assert.deepEqual(plan.requests, [
    { url: "http://h/m/a", start: 16, length: 4, at: 0, fileLength: 20 },
    { url: "http://h/m/b", start: 0, length: 30, at: 16, fileLength: 30 },
  ]);
  assert.deepEqual(plan.zeros, [{ at: 4, length: 12 }]);
});

Deno.test("a run buffer splits writes across its pieces, the last one short, and hands whole ones over in order", () => {
  let taken = 0;
  const run = new RunBuffer(4, [4, 4, 2], (n) => (taken++, new Uint8Array(4).fill(9).subarray(0, n)));
  assert.equal(taken, 0, "no buffer before its first byte");
  run.zero(8, 2);
  assert.deepEqual(run.takeComplete(), [], "the last piece is whole, but the first is not");
  run.write(0, Uint8Array.of(1, 2, 3));
  assert.equal(taken, 2);
  assert.deepEqual(run.takeComplete(), []);
  run.write(3, Uint8Array.of(4, 5, 6));
  assert.deepEqual(run.takeComplete().map(([k, p]) => [k, [...p]]), [[0, [1, 2, 3, 4]]]);
  assert.throws(
    () => run.write(0, Uint8Array.of(1)),
    RangeError,
    "a piece handed over is no longer the run's",
  );
  run.write(6, Uint8Array.of(7, 8));
  assert.deepEqual(run.takeComplete().map(([k, p]) => [k, [...p]]), [[1, [5, 6, 7, 8]], [2, [0, 0]]]);
  assert.equal(taken, 3);
  assert.deepEqual(run.leftovers(), []);
  assert.throws(() => run.write(9, Uint8Array.of(1, 2)), RangeError);
});

Deno.test("a run buffer that fails gives back the buffers it still holds", () => {
  const run = new RunBuffer(4, [4, 4], (n) => new Uint8Array(n));
  run.write(0, Uint8Array.of(1, 2, 3, 4, 5));
  assert.equal(run.takeComplete().length, 1);
  assert.equal(run.leftovers().length, 1, "the second piece, begun");
  assert.deepEqual(run.leftovers(), [], "given back once");
});

Deno.test("Retry-After is read as seconds or a date", () => {
  assert.equal(retryAfterMs("120"), 120_000);
  assert.equal(retryAfterMs(new Date(61_000).toUTCString(), 1_000), 60_000);
  assert.equal(retryAfterMs("soon"), undefined);
  assert.equal(retryAfterMs(null), undefined);
});

async function fetchWith(mode: ServerMode, start = 100, length = 1000) {
  const data = payload(5000, 3);
  const server = startWebSeedServer(new Map([["f.bin", data]]), mode);
  const got = new Uint8Array(length);
  try {
    await fetchRange(
      { url: `${server.url}f.bin`, start, length, at: 0, fileLength: data.length },
      (at, bytes) => got.set(bytes, at),
      { idleTimeoutMs: 2000 },
    );
    return { got, want: data.subarray(start, start + length), server };
  } finally {
    await server.close();
  }
}

async function failure(mode: ServerMode, start = 100, length = 1000): Promise<WebSeedError> {
  try {
    await fetchWith(mode, start, length);
  } catch (e) {
    assert.ok(e instanceof WebSeedError, String(e));
    return e;
  }
  throw new Error(`mode ${mode} did not fail`);
}

Deno.test("a range comes back byte for byte, through redirects too", async () => {
  for (const mode of ["ok", "redirect"] as const) {
    const { got, want } = await fetchWith(mode);
    assert.deepEqual(got, want, mode);
  }
  // A whole file answered with 200 is what we asked for.
  const { got, want } = await fetchWith("ignore-range", 0, 5000);
  assert.deepEqual(got, want);
});

Deno.test("each way a server fails is sorted: gone, busy (with Retry-After) or broken", async () => {
  assert.equal((await failure("404")).kind, "gone");
  const busy = await failure("503");
  assert.equal(busy.kind, "busy");
  assert.equal(busy.retryAfterMs, 1000);
  assert.equal((await failure("429")).kind, "busy");
  for (const mode of ["short", "long", "ignore-range", "redirect-loop"] as const) {
    const e = await failure(mode);
    assert.equal(e.kind, "broken", `${mode}: ${e.message}`);
  }
  assert.match((await failure("short")).message, /sent 999 of the 1000 bytes/);
  assert.equal((await failure("ok", 6000, 10)).kind, "gone"); // past the end: 416
});

Deno.test("a server that accepts and never answers is given up after the idle time", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const held: Deno.Conn[] = [];
  (async () => {
    for await (const c of listener) held.push(c);
  })();
  try {
    const at = Date.now();
    await assert.rejects(
      fetchRange(
        { url: `http://127.0.0.1:${listener.addr.port}/f`, start: 0, length: 10, at: 0, fileLength: 10 },
        () => {},
        { idleTimeoutMs: 300 },
      ),
      (e) => e instanceof WebSeedError && e.kind === "busy" && /no data/.test(e.message),
    );
    assert.ok(Date.now() - at < 5000);
  } finally {
    listener.close();
    for (const c of held) c.close();
  }
});
