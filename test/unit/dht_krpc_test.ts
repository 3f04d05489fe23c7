/** KRPC messages both ways, annotated byte vectors, and malformed input refused without a crash or a hang. */

import assert from "node:assert/strict";
import bencode from "bencode";
import {
  decodeKrpc,
  decodeNodes,
  encodeError,
  encodeNodes,
  encodeQuery,
  encodeResponse,
  MAX_PACKET,
} from "../../src/dht/krpc.ts";

const te = new TextEncoder();
const id = (n: number) => new Uint8Array(20).fill(n);
const t = new Uint8Array([0xaa, 0x01]);

Deno.test("encodeQuery() writes BEP 5's ping byte for byte, and decodeKrpc() reads it back", () => {
  const bytes = encodeQuery(new TextEncoder().encode("aa"), {
    method: "ping",
    id: te.encode("abcdefghij0123456789"),
  });
  // The example from BEP 5: keys sorted, byte strings length-prefixed.
  assert.equal(new TextDecoder().decode(bytes), "d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:qe");
  const msg = decodeKrpc(bytes);
  assert.equal(msg.y, "q");
  assert(msg.y === "q" && msg.q.method === "ping");
});

Deno.test("queries of every method survive a round trip", () => {
  const queries = [
    { method: "find_node", id: id(1), target: id(2) },
    { method: "get_peers", id: id(1), infoHash: id(3) },
    {
      method: "announce_peer",
      id: id(1),
      infoHash: id(3),
      port: 6881,
      token: te.encode("tok"),
      impliedPort: false,
    },
    {
      method: "announce_peer",
      id: id(1),
      infoHash: id(3),
      port: 0,
      token: te.encode("tok"),
      impliedPort: true,
    },
  ] as const;
  for (const q of queries) {
    const msg = decodeKrpc(encodeQuery(t, q));
    assert(msg.y === "q");
    assert.deepEqual(msg.q, q);
    assert.deepEqual(msg.t, t);
  }
  const unknown = decodeKrpc(encodeQuery(t, { method: "unknown", id: id(1), name: "vote" }));
  assert(unknown.y === "q" && unknown.q.method === "unknown" && unknown.q.name === "vote");
});

Deno.test("responses carry nodes (26 bytes each), nodes6 (38), values and a token; errors a code and a message", () => {
  const nodes = [{ id: id(5), host: "10.1.2.3", port: 6881 }, { id: id(6), host: "192.168.0.9", port: 1 }];
  const nodes6 = [{ id: id(7), host: "2001:db8:0:0:0:0:0:1", port: 443 }];
  const values = [{ host: "10.9.9.9", port: 51413 }];
  const msg = decodeKrpc(encodeResponse(t, { id: id(4), nodes, nodes6, values, token: te.encode("xyz") }));
  assert(msg.y === "r");
  assert.deepEqual(msg.r, { id: id(4), nodes, nodes6, values, token: te.encode("xyz") });
  // <id:20><10.1.2.3:4><6881:2> for the first node.
  assert.deepEqual(
    encodeNodes(nodes, false).subarray(0, 26),
    new Uint8Array([...id(5), 10, 1, 2, 3, 0x1a, 0xe1]),
  );
  const err = decodeKrpc(encodeError(t, 203, "bad token"));
  assert.deepEqual(err, { y: "e", t, code: 203, message: "bad token" });
});

Deno.test("decodeKrpc() refuses truncated nodes and values, wrong id lengths, bad types and oversized packets", () => {
  const bad: [string, Uint8Array][] = [
    ["nodes of 25 bytes", bencode.encode({ t: "aa", y: "r", r: { id: id(1), nodes: new Uint8Array(25) } })],
    [
      "a value of 5 bytes",
      bencode.encode({ t: "aa", y: "r", r: { id: id(1), values: [new Uint8Array(5)] } }),
    ],
    ["values not a list", bencode.encode({ t: "aa", y: "r", r: { id: id(1), values: 5 } })],
    ["an id of 19 bytes", bencode.encode({ t: "aa", y: "q", q: "ping", a: { id: new Uint8Array(19) } })],
    ["no a", bencode.encode({ t: "aa", y: "q", q: "ping" })],
    [
      "a port of 70000",
      bencode.encode({
        t: "aa",
        y: "q",
        q: "announce_peer",
        a: { id: id(1), info_hash: id(2), port: 70000, token: "x" },
      }),
    ],
    ["an empty transaction id", bencode.encode({ t: "", y: "r", r: { id: id(1) } })],
    ["y is z", bencode.encode({ t: "aa", y: "z" })],
    ["a list at the top", bencode.encode(["a"])],
    ["trailing bytes", new Uint8Array([...encodeError(t, 201, "x"), 0x30])],
    ["deep nesting", te.encode("d1:t2:aa1:y1:r1:rd2:idl" + "l".repeat(50) + "e".repeat(52))],
    ["a string past the end", te.encode("d1:t99:aae")],
    ["an integer with a leading zero", te.encode("d1:ei01ee")],
    ["too large", new Uint8Array(MAX_PACKET + 1).fill(0x64)],
    ["empty", new Uint8Array(0)],
  ];
  for (const [why, bytes] of bad) assert.throws(() => decodeKrpc(bytes), SyntaxError, why);
  assert.throws(() => decodeNodes(new Uint8Array(39), true), SyntaxError);
});

Deno.test("decodeKrpc() on 20,000 mutated and random packets: only SyntaxError, never anything else", () => {
  let seed = 7;
  const rand = (n: number) => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) % n;
  const samples = [
    encodeQuery(t, { method: "get_peers", id: id(1), infoHash: id(2) }),
    encodeResponse(t, {
      id: id(4),
      nodes: [{ id: id(5), host: "10.1.2.3", port: 6881 }],
      token: te.encode("tok"),
    }),
    encodeResponse(t, { id: id(4), values: [{ host: "10.9.9.9", port: 1 }] }),
    encodeError(t, 201, "generic"),
  ];
  let refused = 0;
  for (let i = 0; i < 20_000; i++) {
    let bytes: Uint8Array;
    if (i % 4 === 3) {
      bytes = crypto.getRandomValues(new Uint8Array(rand(200)));
    } else {
      bytes = samples[rand(samples.length)].slice();
      for (let k = 0; k <= rand(4); k++) bytes[rand(bytes.length)] = rand(256);
      if (rand(3) === 0) bytes = bytes.subarray(0, rand(bytes.length));
    }
    try {
      decodeKrpc(bytes);
    } catch (e) {
      assert(e instanceof SyntaxError, `${(e as Error).name}: ${(e as Error).message}`);
      refused++;
    }
  }
  assert(refused > 10_000, `refused ${refused}`);
});
