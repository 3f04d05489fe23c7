/** The saved routing table: read back as written; a damaged or foreign file refused with a reason. */

import assert from "node:assert/strict";
import { decodeSavedNodes, encodeSavedNodes, MAX_SAVED } from "../../src/dht/saved_nodes.ts";

const id = (n: number) => new Uint8Array(20).fill(n);

Deno.test("encodeSavedNodes() and decodeSavedNodes() round-trip our id and at most MAX_SAVED nodes", () => {
  const nodes = Array.from(
    { length: MAX_SAVED + 5 },
    (_, i) => ({ id: id(i % 256), host: `10.0.${i >> 8}.${i & 255}`, port: 6881 }),
  );
  nodes[1] = { id: id(1), host: "2001:db8:0:0:0:0:0:1", port: 1 };
  const back = decodeSavedNodes(encodeSavedNodes({ id: id(9), nodes }));
  assert.deepEqual(back.id, id(9));
  assert.equal(back.nodes.length, MAX_SAVED);
  assert.deepEqual(back.nodes.slice(0, 2), nodes.slice(0, 2));
});

Deno.test("decodeSavedNodes() refuses what is not one of ours, or damaged", () => {
  const good = JSON.parse(encodeSavedNodes({ id: id(1), nodes: [{ id: id(2), host: "10.0.0.1", port: 1 }] }));
  const cases: [string, string][] = [
    ["not JSON", "{nope"],
    ["a foreign file", JSON.stringify({ nodes: [] })],
    ["another version", JSON.stringify({ ...good, version: 7 })],
    ["a short id", JSON.stringify({ ...good, id: "abcd" })],
    ["a host name", JSON.stringify({ ...good, nodes: [{ ...good.nodes[0], host: "evil.example" }] })],
    ["port 0", JSON.stringify({ ...good, nodes: [{ ...good.nodes[0], port: 0 }] })],
    ["too many", JSON.stringify({ ...good, nodes: new Array(MAX_SAVED + 1).fill(good.nodes[0]) })],
  ];
  for (const [why, text] of cases) assert.throws(() => decodeSavedNodes(text), SyntaxError, why);
});
