import assert from "node:assert/strict";
import bencode from "bencode";
import { BencodeCursor, scanValue, topLevelSpans } from "../../src/common/bencode_strict.ts";

const enc = (s: string) => new TextEncoder().encode(s);

/** The value `bytes` hold, checked by `scanValue` first as every reader of untrusted bytes does. */
function decode(bytes: Uint8Array): unknown {
  scanValue(bytes, 0);
  return new BencodeCursor(bytes, 0).value();
}

/** A value with its byte strings as arrays of numbers, for a deep comparison. */
function plain(v: unknown): unknown {
  if (v instanceof Uint8Array) return [...v];
  if (Array.isArray(v)) return v.map(plain);
  if (typeof v === "object" && v !== null) {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x)]));
  }
  return v;
}

Deno.test("BencodeCursor reads what npm:bencode reads: nested lists and dictionaries, integers, text keys", () => {
  const cases = [
    "d4:infod5:filesld6:lengthi42e4:pathl3:dir4:fileeed6:lengthi0e4:pathl1:aeee4:name1:x12:piece lengthi16384eee",
    "li-17ei0ei9007199254740991e0:4:\u00ffabe",
    "d1:ade5:\u00e9t\u00e9i1e1:zlee",
  ];
  for (const text of cases) {
    const bytes = enc(text);
    assert.deepEqual(plain(decode(bytes)), plain(bencode.decode(bytes)), text);
  }
});

Deno.test("BencodeCursor: byte strings are views of the input, a __proto__ key is only a key; bad input throws", () => {
  const bytes = enc("d9:__proto__d1:ai1ee5:piece3:abce");
  const d = decode(bytes) as Record<string, unknown>;
  const piece = d.piece as Uint8Array;
  assert.equal(piece.buffer, bytes.buffer, "a view, not a copy");
  assert.equal(piece.byteOffset, bytes.length - 4);
  assert.equal(Object.getPrototypeOf(d), Object.prototype, "the key did not replace the prototype");
  assert.deepEqual(plain(Object.getOwnPropertyDescriptor(d, "__proto__")!.value), { a: 1 });
  for (const bad of ["d1:ai1e", "i01e", "5:abc", "d1:ai1eex", "l" + "l".repeat(70) + "e".repeat(71)]) {
    assert.throws(() => topLevelSpans(enc(bad)), SyntaxError, bad);
  }
});

Deno.test("BencodeCursor keeps keys apart that share a length, past the keys it remembers", () => {
  // 40 distinct two-letter keys, each dictionary repeating them in another order: remembered keys must still
  // be told apart byte by byte, and keys beyond the remembered ones still decoded.
  const keys = Array.from(
    { length: 40 },
    (_, i) => String.fromCharCode(97 + (i % 26)) + String.fromCharCode(65 + i),
  );
  const dict = (shift: number) =>
    "d" + [...keys].sort().map((k, i) => `2:${k}i${(i + shift) * 7}e`).join("") + "e";
  const text = `l${dict(0)}${dict(1)}${dict(2)}e`;
  assert.deepEqual(plain(decode(enc(text))), plain(bencode.decode(enc(text))));
});
