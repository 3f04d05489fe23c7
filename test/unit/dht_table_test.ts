/** The routing table, tokens and the peer store, on a fake clock. */

import assert from "node:assert/strict";
import { commonPrefix, compareDistance, randomIdInBucket } from "../../src/dht/node_id.ts";
import { PEER_TTL_MS, PeerStore } from "../../src/dht/peer_store.ts";
import { K, QUESTIONABLE_MS, RoutingTable } from "../../src/dht/routing_table.ts";
import { ROTATE_MS, Tokens } from "../../src/dht/tokens.ts";

const own = new Uint8Array(20); // all zeros: a node's bucket is its number of leading zero bits
/** An id with `zeros` leading zero bits, then a one, then `n` in its last bytes. */
function idAt(zeros: number, n: number): Uint8Array {
  const id = new Uint8Array(20);
  id[19] = n & 0xff;
  id[18] = (n >> 8) & 0xff;
  id[zeros >> 3] |= 0x80 >> (zeros & 7);
  return id;
}
const node = (id: Uint8Array, n: number) => ({ id, host: `10.0.${n >> 8}.${n & 0xff}`, port: 6881 });

Deno.test("RoutingTable splits only the bucket holding our id, and keeps K far nodes at most", () => {
  const clock = { t: 0 };
  const table = new RoutingTable(own, () => clock.t);
  for (let n = 0; n < 20; n++) table.answered(node(idAt(0, n), n)); // far: first bit differs
  assert.equal(table.closest(idAt(0, 0), 100).filter((x) => commonPrefix(own, x.id) === 0).length, K);
  for (let zeros = 1; zeros <= 10; zeros++) {
    for (let n = 0; n < 3; n++) table.answered(node(idAt(zeros, n), 100 * zeros + n));
  }
  assert.equal(table.size, K + 30, "nearer buckets keep all they got");
  assert(table.bucketCount >= 10, `${table.bucketCount} buckets`);
  const closest = table.closest(own, K);
  assert.deepEqual(closest.map((x) => commonPrefix(own, x.id)), [10, 10, 10, 9, 9, 9, 8, 8]);
});

Deno.test("RoutingTable: a full bucket keeps its good nodes, asks to ping a questionable one, and a bad one gives way", () => {
  const clock = { t: 0 };
  const table = new RoutingTable(own, () => clock.t);
  // Fill the far bucket (it split away from ours), then one more node for it.
  for (let n = 0; n < 8; n++) table.answered(node(idAt(0, n), n));
  table.answered(node(idAt(5, 1), 99)); // forces the split: bucket 0 is no longer ours
  assert.equal(table.answered(node(idAt(0, 50), 50)), undefined, "all good: the newcomer just waits");
  clock.t = QUESTIONABLE_MS + 1;
  for (let n = 1; n < 8; n++) table.answered(node(idAt(0, n), n)); // seven answer again; node 0 stays quiet
  const advice = table.answered(node(idAt(0, 51), 51));
  assert.deepEqual(advice?.ping.id, idAt(0, 0), "ping the questionable one");
  table.failed(idAt(0, 0));
  assert(table.get(idAt(0, 0)), "one failure is not bad yet");
  table.failed(idAt(0, 0));
  assert.equal(table.get(idAt(0, 0)), undefined, "bad: replaced");
  assert(table.get(idAt(0, 51)), "by the newest spare");
});

Deno.test("RoutingTable ignores its own id, and an id that moves to another address", () => {
  const table = new RoutingTable(own);
  table.answered({ id: own, host: "10.0.0.1", port: 1 });
  assert.equal(table.size, 0);
  table.answered(node(idAt(3, 1), 1));
  table.answered({ id: idAt(3, 1), host: "10.6.6.6", port: 666 });
  assert.equal(table.get(idAt(3, 1))?.host, "10.0.0.1");
});

Deno.test("RoutingTable names buckets quiet for 15 minutes; randomIdInBucket() lands in the bucket asked for", () => {
  const clock = { t: 0 };
  const table = new RoutingTable(own, () => clock.t);
  table.answered(node(idAt(0, 1), 1));
  assert.deepEqual(table.staleBuckets(), []);
  clock.t = QUESTIONABLE_MS;
  assert.deepEqual(table.staleBuckets(), [0]);
  for (let bits = 0; bits < 160; bits += 17) {
    assert.equal(commonPrefix(own, randomIdInBucket(own, bits)), bits);
  }
  assert(compareDistance(own, idAt(3, 0), idAt(2, 0)) < 0, "more shared bits: closer");
});

Deno.test("Tokens: issued per address, good for 5 to 10 minutes, never after", () => {
  const clock = { t: 0 };
  const tokens = new Tokens(() => clock.t);
  const token = tokens.issue("10.0.0.1");
  assert(tokens.accepts("10.0.0.1", token));
  assert(!tokens.accepts("10.0.0.2", token), "another address");
  clock.t = ROTATE_MS + 1;
  assert(tokens.accepts("10.0.0.1", token), "one rotation: still good");
  clock.t = 2 * ROTATE_MS + 2;
  assert(!tokens.accepts("10.0.0.1", token), "two rotations: stale");
  const late = new Tokens(() => clock.t);
  const old = late.issue("10.0.0.1");
  clock.t += 3 * ROTATE_MS; // nobody asked for a while: both secrets turned over
  assert(!late.accepts("10.0.0.1", old));
});

Deno.test("PeerStore is bounded per infohash, in infohashes and in total, and forgets after 30 minutes", () => {
  const clock = { t: 0 };
  const store = new PeerStore(3, 5, 2, () => clock.t);
  const hash = (n: number) => new Uint8Array(20).fill(n);
  for (let p = 1; p <= 5; p++) store.add(hash(1), { host: "10.0.0.1", port: p });
  assert.deepEqual(store.get(hash(1)).map((p) => p.port), [5, 4, 3], "three per infohash, newest kept");
  store.add(hash(2), { host: "10.0.0.2", port: 1 });
  store.add(hash(3), { host: "10.0.0.3", port: 1 });
  assert.equal(store.infoHashes, 2, "a third infohash does not fit");
  store.add(hash(2), { host: "10.0.0.2", port: 2 });
  store.add(hash(2), { host: "10.0.0.2", port: 3 });
  assert(store.size <= 5);
  clock.t = PEER_TTL_MS + 1;
  assert.deepEqual(store.get(hash(1)), []);
});
