import assert from "node:assert/strict";
import { Rc4 } from "../../src/crypto/rc4.ts";
import { fromHex, toHex } from "../../src/common/bytes.ts";

// RFC 6229, section 2: the keystream of two keys at some of its offsets.
const VECTORS: [string, [number, string][]][] = [
  ["0102030405", [
    [0, "b2396305f03dc027ccc3524a0a1118a8"],
    [16, "6982944f18fc82d589c403a47a0d0919"],
    [240, "28cb1132c96ce286421dcaadb8b69eae"],
    [1008, "45129048e6a0ed0b56b490338f078da5"],
    [1024, "30abbcc7c20b01609f23ee2d5f6bb7df"],
    [4096, "ff25b58995996707e51fbdf08b34d875"],
  ]],
  ["0102030405060708090a0b0c0d0e0f10", [
    [0, "9ac7cc9a609d1ef7b2932899cde41b97"],
    [1024, "bdf0324e6083dcc6d3cedd3ca8c53c16"],
  ]],
];

Deno.test("RC4 gives RFC 6229's keystream at every offset checked, in one call or in pieces", () => {
  for (const [key, points] of VECTORS) {
    const whole = new Rc4(fromHex(key)).apply(new Uint8Array(4112));
    for (const [at, hex] of points) assert.equal(toHex(whole.subarray(at, at + 16)), hex);
    // The same stream in odd-sized pieces, through discard() too.
    const rc4 = new Rc4(fromHex(key)).discard(7);
    const parts: number[] = [];
    for (let done = 7; done < 4112; done += 13) {
      parts.push(...rc4.apply(new Uint8Array(Math.min(13, 4112 - done))));
    }
    assert.deepEqual(new Uint8Array(parts), whole.subarray(7));
  }
});

Deno.test("RC4 gives the same stream over views at every alignment, short and long", () => {
  const key = fromHex("0102030405");
  const whole = new Rc4(key).apply(new Uint8Array(4112));
  for (const offset of [1, 2, 3, 4]) {
    const rc4 = new Rc4(key);
    const backing = new Uint8Array(offset + 4112);
    let done = 0;
    for (const size of [1, 2, 3, 5, 8, 1000, 3093]) {
      rc4.apply(backing.subarray(offset + done, offset + done + size));
      done += size;
    }
    assert.deepEqual(backing.subarray(offset), whole, `views from byte ${offset}`);
  }
});

Deno.test("RC4 decrypts what it encrypted, with the same key", () => {
  const key = fromHex("00112233445566778899aabbccddeeff00112233");
  const text = new TextEncoder().encode("BitTorrent protocol, encrypted");
  const sealed = new Rc4(key).discard(1024).apply(text.slice());
  assert.notDeepEqual(sealed, text);
  assert.deepEqual(new Rc4(key).discard(1024).apply(sealed), text);
});
