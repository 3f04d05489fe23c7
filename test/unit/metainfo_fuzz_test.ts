/**
 * Fuzzing the .torrent parser with mutations of valid torrents: every input must end in a valid parse or a
 * one-line SyntaxError, never another exception, a crash or a hang. Seeded, so a failure reproduces.
 */

import assert from "node:assert/strict";
import { parseMetainfo } from "../../src/metainfo/metainfo.ts";

const FIXTURES = new URL("../../fixtures/", import.meta.url).pathname;
const encoder = new TextEncoder();

function rng(seed: number) {
  let x = seed >>> 0 || 1;
  return (n: number) => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) % n;
  };
}

function splice(buf: Uint8Array, at: number, remove: number, insert: Uint8Array): Uint8Array {
  const out = new Uint8Array(buf.length - remove + insert.length);
  out.set(buf.subarray(0, at));
  out.set(insert, at);
  out.set(buf.subarray(at + remove), at + insert.length);
  return out;
}

type Mutation = (buf: Uint8Array, r: (n: number) => number) => Uint8Array;

const MUTATIONS: [string, Mutation][] = [
  ["flipped bytes", (b, r) => {
    const out = b.slice();
    for (let k = 1 + r(4); k > 0; k--) out[r(out.length)] ^= 1 << r(8);
    return out;
  }],
  ["random bytes", (b, r) => {
    const out = b.slice();
    for (let k = 1 + r(8); k > 0; k--) out[r(out.length)] = r(256);
    return out;
  }],
  ["truncation", (b, r) => b.slice(0, r(b.length))],
  ["huge integer", (b, r) => {
    const at = b.indexOf(0x69); // first 'i'
    return splice(b, at < 0 ? r(b.length) : at, 0, encoder.encode(`i${"9".repeat(20 + r(400))}e`));
  }],
  ["huge length prefix", (b, r) => splice(b, r(b.length), 0, encoder.encode(`${"9".repeat(1 + r(30))}:`))],
  ["deep nesting", (b, r) => {
    const depth = 50 + r(5000);
    return splice(
      b,
      1 + r(b.length - 1),
      0,
      encoder.encode("l".repeat(depth) + "e".repeat(r(2) ? depth : r(depth))),
    );
  }],
  ["giant string", (b, r) => {
    const at = r(b.length);
    const length = 100_000 + r(1_000_000);
    const prefix = encoder.encode(`${length}:`);
    const s = new Uint8Array(prefix.length + length).fill(0x41);
    s.set(prefix);
    return splice(b, at, 0, s);
  }],
  ["duplicated span", (b, r) => {
    const from = r(b.length), len = r(Math.min(200, b.length - from));
    return splice(b, r(b.length), 0, b.slice(from, from + len));
  }],
];

Deno.test("parseMetainfo() ends every mutated torrent in a valid parse or a one-line SyntaxError", async () => {
  const seeds = ["single.torrent", "multi.torrent"].map((f) => Deno.readFileSync(FIXTURES + f));
  const r = rng(20261125);
  const outcomes = new Map<string, { ok: number; rejected: number }>();
  for (let n = 0; n < 10_000; n++) {
    const [name, mutate] = MUTATIONS[n % MUTATIONS.length];
    const input = mutate(seeds[r(seeds.length)], r);
    const o = outcomes.get(name) ?? { ok: 0, rejected: 0 };
    outcomes.set(name, o);
    try {
      const meta = await parseMetainfo(input);
      assert.equal(meta.pieceHashes.length, meta.pieceCount * 20);
      o.ok++;
    } catch (e) {
      assert(e instanceof SyntaxError, `case ${n} (${name}) threw ${e}`);
      assert.match(e.message, /^Cannot parse torrent: /);
      assert(!e.message.includes("\n"), `case ${n}: multi-line message`);
      assert(e.message.length < 300, `case ${n}: message of ${e.message.length} characters`);
      o.rejected++;
    }
  }
  // Every mutation produced rejections (the fuzzer reaches the parser's checks).
  for (const [name, o] of outcomes) assert(o.rejected > 0, `${name}: ${JSON.stringify(o)}`);
});
