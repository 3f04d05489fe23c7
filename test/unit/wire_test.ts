import assert from "node:assert/strict";
import {
  decodeHandshake,
  decodeMessage,
  encodeHandshake,
  encodeHaves,
  encodeMessage,
  isRequest,
  type Message,
  readU32,
} from "../../src/wire/wire.ts";

const h = (s: string) => new Uint8Array(s.replace(/\s+/g, "").match(/../g)!.map((x) => parseInt(x, 16)));

// Each vector: the message and its bytes on the wire, annotated field by field.
const VECTORS: [Message, string][] = [
  [{ type: "keep-alive" }, "00000000"], //                                     <len=0>
  [{ type: "choke" }, "00000001 00"], //                                       <len=1><id=0>
  [{ type: "unchoke" }, "00000001 01"], //                                     <len=1><id=1>
  [{ type: "interested" }, "00000001 02"], //                                  <len=1><id=2>
  [{ type: "not-interested" }, "00000001 03"], //                              <len=1><id=3>
  [{ type: "have", index: 0x01020304 }, "00000005 04 01020304"], //            <len=5><id=4><index>
  [{ type: "bitfield", bits: h("ff80") }, "00000003 05 ff80"], //              <len=3><id=5><bits>
  [
    { type: "request", index: 1, begin: 0x4000, length: 0x4000 },
    "0000000d 06 00000001 00004000 00004000", //                               <len=13><id=6><index><begin><length>
  ],
  [{ type: "piece", index: 2, begin: 0, block: h("cafe") }, "0000000b 07 00000002 00000000 cafe"], // <len=9+2><id=7>
  [
    { type: "cancel", index: 1, begin: 0x4000, length: 0x4000 },
    "0000000d 08 00000001 00004000 00004000", //                               <len=13><id=8><index><begin><length>
  ],
  [{ type: "port", port: 6881 }, "00000003 09 1ae1"], //                       <len=3><id=9><port>
  [{ type: "suggest", index: 7 }, "00000005 0d 00000007"], //                 <len=5><id=13><index> (BEP 6)
  [{ type: "have-all" }, "00000001 0e"], //                                    <len=1><id=14>
  [{ type: "have-none" }, "00000001 0f"], //                                   <len=1><id=15>
  [
    { type: "reject", index: 1, begin: 0x4000, length: 0x4000 },
    "0000000d 10 00000001 00004000 00004000", //                               <len=13><id=16><index><begin><length>
  ],
  [{ type: "allowed-fast", index: 9 }, "00000005 11 00000009"], //             <len=5><id=17><index>
  [{ type: "extended", ext: 0, payload: h("6465") }, "00000004 14 00 6465"], // <len=4><id=20><ext=0><payload> (BEP 10)
  [{ type: "unknown", id: 21, payload: h("0064") }, "00000003 15 0064"], //    <len=3><id=21><payload>
];

for (const [msg, hex] of VECTORS) {
  Deno.test(`encodeMessage()/decodeMessage() ${msg.type} matches its byte vector both ways`, () => {
    assert.deepEqual(encodeMessage(msg), h(hex));
    assert.deepEqual(decodeMessage(h(hex).subarray(4)), msg);
  });
}

Deno.test("decodeMessage() rejects a known id with the wrong length", () => {
  assert.throws(() => decodeMessage(h("01 00")), /unchoke message with payload of 2 bytes/);
  assert.throws(() => decodeMessage(h("04 000001")), /have message/);
  assert.throws(() => decodeMessage(h("06 00000001 00000000")), /request message/);
  assert.throws(() => decodeMessage(h("07 0000")), /piece message/);
  assert.throws(() => decodeMessage(h("09 1a")), /port message/);
});

Deno.test("decodeMessage() returns a piece block as a view, without copying", () => {
  const frame = h("07 00000002 00000000 cafe");
  const msg = decodeMessage(frame);
  assert(msg.type === "piece");
  assert.equal(msg.block.buffer, frame.buffer);
});

Deno.test("encodeHandshake() lays out pstrlen, pstr, reserved, infohash, peer id", () => {
  const info = new Uint8Array(20).fill(0xaa);
  const id = new TextEncoder().encode("-AX0100-abcdefghijkl");
  const hs = encodeHandshake(info, id);
  assert.equal(hs.length, 68);
  assert.equal(hs[0], 19);
  assert.equal(new TextDecoder().decode(hs.subarray(1, 20)), "BitTorrent protocol");
  assert.deepEqual(hs.subarray(20, 28), new Uint8Array(8));
  assert.deepEqual(hs.subarray(28, 48), info);
  assert.deepEqual(hs.subarray(48, 68), id);
  assert.deepEqual(decodeHandshake(hs), { reserved: new Uint8Array(8), infoHash: info, peerId: id });
});

Deno.test("decodeHandshake() rejects another protocol", () => {
  const hs = encodeHandshake(new Uint8Array(20), new Uint8Array(20));
  hs[5] ^= 1;
  assert.throws(() => decodeHandshake(hs), /does not speak the BitTorrent protocol/);
});

Deno.test("encodeHaves() writes one have frame per index from `from` on, in one buffer", () => {
  assert.deepEqual(encodeHaves([9, 1, 0xfffffffe], 1), h("00000005 04 00000001  00000005 04 fffffffe"));
  assert.equal(encodeHaves([3], 1).length, 0);
});

Deno.test("readU32() reads a request frame's numbers as decodeMessage() does", () => {
  const frame = h("06 80000002 00004000 00004000");
  assert(isRequest(frame));
  assert.equal(readU32(frame, 1), 0x80000002, "above 2^31: unsigned");
  assert.equal(readU32(frame, 5), 0x4000);
  assert.deepEqual(decodeMessage(frame), {
    type: "request",
    index: 0x80000002,
    begin: 0x4000,
    length: 0x4000,
  });
  assert(!isRequest(h("06 0000")), "too short for a request");
  assert(!isRequest(h("04 00000001 00000000 00000000")), "another id");
});
