/**
 * DhtNode on a simulated network: a few hundred nodes in this process, datagrams delivered through a map instead of
 * sockets (addresses are only names here). Lookups converge on the true closest nodes, announced peers are found,
 * and garbage, floods and answers from the wrong address change nothing.
 */

import assert from "node:assert/strict";
import type { PeerAddress } from "../../src/common/peer_address.ts";
import { encodeResponse } from "../../src/dht/krpc.ts";
import { DhtNode } from "../../src/dht/node.ts";
import { compareDistance, randomId } from "../../src/dht/node_id.ts";
import { toHex } from "../../src/common/bytes.ts";

class Network {
  readonly nodes = new Map<string, DhtNode>();
  /** Addresses that swallow whatever is sent to them. */
  readonly dead = new Set<string>();
  delivered = 0;

  add(host: string, options: { queryTimeoutMs?: number } = {}): DhtNode {
    const from = { host, port: 6881 };
    const node = new DhtNode({
      queryTimeoutMs: options.queryTimeoutMs ?? 300,
      transport: { send: (packet, to) => this.deliver(packet, from, to) },
    });
    this.nodes.set(`${host}:6881`, node);
    return node;
  }

  deliver(packet: Uint8Array, from: PeerAddress, to: PeerAddress): void {
    const key = `${to.host}:${to.port}`;
    if (this.dead.has(key)) return;
    setTimeout(() => {
      this.delivered++;
      this.nodes.get(key)?.receive(packet, from);
    }, 0);
  }

  close(): void {
    for (const n of this.nodes.values()) n.close();
  }
}

const host = (i: number) => `10.${(i >> 16) & 0xff}.${(i >> 8) & 0xff}.${i & 0xff}`;

async function network(size: number): Promise<{ net: Network; all: DhtNode[] }> {
  const net = new Network();
  const all = Array.from({ length: size }, (_, i) => net.add(host(i + 1)));
  const router = { host: host(1), port: 6881 };
  // Join in batches, as nodes come and go in a real swarm; each asks the first node and looks up its own id.
  for (let i = 1; i < size; i += 25) {
    await Promise.all(all.slice(i, i + 25).map((n) => n.bootstrap([router])));
  }
  return { net, all };
}

Deno.test("DHT lookups on 300 in-process nodes find the true closest nodes", async () => {
  const { net, all } = await network(300);
  try {
    for (const n of all.slice(1, 20)) assert(n.table.size >= 8, `a node knows only ${n.table.size} nodes`);
    let found = 0, queries = 0;
    for (let trial = 0; trial < 10; trial++) {
      const target = randomId();
      const truth = all.map((n) => n.id).sort((a, b) => compareDistance(target, a, b)).slice(0, 8).map(toHex);
      const from = all[(trial * 37 + 5) % all.length];
      const result = await from.lookup(target, "find_node");
      const got = new Set(result.closest.map((c) => toHex(c.node.id)));
      const hits = truth.filter((t) => got.has(t) || t === toHex(from.id)).length;
      found += hits;
      queries += result.queried;
    }
    console.log(`found ${found} of the 80 true closest, ${queries / 10} queries a lookup`);
    assert(found >= 76, `${found} of the 80 true closest found`);
    assert(queries / 10 < 60, `${queries / 10} queries a lookup`);
  } finally {
    net.close();
  }
});

Deno.test("DHT: a peer announced by one node is found by another's get_peers lookup", async () => {
  const { net, all } = await network(120);
  try {
    const infoHash = randomId();
    const announced = await all[7].announce(infoHash, 51413);
    assert(announced.accepted >= 6, `${announced.accepted} nodes accepted the announce`);
    const seen: PeerAddress[] = [];
    const result = await all[93].lookup(infoHash, "get_peers", { onPeers: (p) => seen.push(...p) });
    assert.deepEqual(result.peers, [{ host: host(8), port: 51413 }]);
    assert.deepEqual(seen, result.peers, "peers are reported as they come");
    const keeper = all.find((n) => n.store.get(infoHash).length > 0)!;
    const own = await keeper.lookup(infoHash, "get_peers");
    assert.deepEqual(
      own.peers,
      [{ host: host(8), port: 51413 }],
      "a node that holds the announce finds it too",
    );
  } finally {
    net.close();
  }
});

Deno.test("DHT: dead nodes time out, lookups still finish, and bad nodes leave the table", async () => {
  const { net, all } = await network(80);
  try {
    for (let i = 40; i < 80; i++) net.dead.add(`${host(i + 1)}:6881`);
    const isDead = (n: { host: string }) => net.dead.has(`${n.host}:6881`);
    const me = all[3];
    const deadBefore = me.table.closest(me.id, 200).filter(isDead).length;
    assert(deadBefore > 0);
    const result = await me.lookup(randomId(), "find_node");
    assert(result.closest.length > 0);
    assert(result.closest.every((c) => !isDead(c.node)), "only nodes that answered");
    assert(me.stats.timeouts > 0, "some queries went unanswered");
    // Looking up where the dead nodes are asks them again: twice unanswered, a node is bad.
    const deadIds = me.table.closest(me.id, 200).filter(isDead).map((n) => n.id);
    for (let round = 0; round < 2; round++) {
      await Promise.all(deadIds.map((id) => me.lookup(id, "find_node")));
    }
    const deadAfter = me.table.closest(me.id, 200).filter(isDead).length;
    assert(deadAfter < deadBefore, `${deadAfter} dead nodes still count as alive, of ${deadBefore}`);
  } finally {
    net.close();
  }
});

Deno.test("DHT: garbage, a flood and answers from the wrong address are dropped and counted", async () => {
  const net = new Network();
  const a = net.add("10.0.0.1");
  const b = net.add("10.0.0.2");
  try {
    const from = { host: "10.6.6.6", port: 1 };
    a.receive(new TextEncoder().encode("d1:ad2:id20:"), from);
    a.receive(crypto.getRandomValues(new Uint8Array(300)), from);
    a.receive(new TextEncoder().encode("d1:t2:aa1:y1:rl" + "l".repeat(100)), from);
    assert.equal(a.stats.malformed, 3);
    // An answer with a transaction id we never used, and one from an address we did not ask.
    a.receive(encodeResponse(new Uint8Array([1, 2]), { id: randomId() }), from);
    const asking = a.ping({ host: "10.0.0.2", port: 6881 });
    a.receive(encodeResponse(new Uint8Array([0, 0]), { id: randomId() }), from);
    await asking;
    assert(a.stats.unmatched >= 2);
    assert.equal(a.table.size, 1, "only the node that answered is in the table");
    assert.equal(a.table.get(b.id)?.host, "10.0.0.2");
    for (let i = 0; i < 3000; i++) a.receive(new Uint8Array([0x64]), from);
    assert(a.stats.flooded > 0, "beyond the receive rate, datagrams are dropped unread");
  } finally {
    net.close();
  }
});

Deno.test("DHT: options left undefined take their defaults (a query waits 3 s, not 0)", async () => {
  const silent = new DhtNode({ transport: { send: () => {} }, queryTimeoutMs: undefined });
  const started = Date.now();
  const asked = silent.ping({ host: "10.0.0.1", port: 1 }).then(() => 0, () => Date.now() - started);
  await new Promise((r) => setTimeout(r, 50));
  silent.close();
  assert(await asked >= 50, "still waiting after 50 ms");
});
