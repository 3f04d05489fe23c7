import assert from "node:assert/strict";
import { Sha1 } from "../../src/common/sha1_wasm.ts";
import { sha1, sha1Now, SMALL_HASH, toHex } from "../../src/common/bytes.ts";

Deno.test("Sha1 gives FIPS 180's test vectors", () => {
  const h = new Sha1();
  const text = (s: string) => toHex(h.digest(new TextEncoder().encode(s)));
  assert.equal(text(""), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
  assert.equal(text("abc"), "a9993e364706816aba3e25717850c26c9cd0d89d");
  assert.equal(
    text("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
    "84983e441c3bd26ebaae4aa1f95129e5e54670f1",
  );
});

Deno.test("Sha1 equals Web Crypto at every padding boundary, past its first page of memory, and on reuse", async () => {
  const h = new Sha1();
  const out = new Uint8Array(20);
  const sizes = [1, 55, 56, 57, 63, 64, 65, 119, 120, 128, 16_384, 65_536, 100_003, 16_384, 3];
  for (const size of sizes) {
    const data = new Uint8Array(size).map((_, i) => (i * 131 + size) & 0xff);
    const want = await sha1(data);
    assert.deepEqual(h.digest(data), want, `${size} bytes`);
    assert.equal(h.digest(data, out), out);
    assert.deepEqual(out, want, `${size} bytes, into a given array`);
  }
});

Deno.test("sha1Now() agrees with Web Crypto on both sides of SMALL_HASH and writes into a given array", async () => {
  for (const size of [SMALL_HASH, SMALL_HASH + 1]) {
    const data = new Uint8Array(size).map((_, i) => (i * 7) & 0xff);
    const out = new Uint8Array(20);
    assert.equal(sha1Now(data, out), out);
    assert.deepEqual(out, await sha1(data), `${size} bytes`);
    assert.deepEqual(sha1Now(data), await sha1(data));
  }
});
