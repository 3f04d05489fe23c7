/** Answers to other nodes' queries, decoded back: tokens checked, implied ports, unknown methods, IPv6 askers. */

import assert from "node:assert/strict";
import { decodeKrpc } from "../../src/dht/krpc.ts";
import { randomId } from "../../src/dht/node_id.ts";
import { PeerStore } from "../../src/dht/peer_store.ts";
import { RoutingTable } from "../../src/dht/routing_table.ts";
import { answer } from "../../src/dht/server.ts";
import { Tokens } from "../../src/dht/tokens.ts";

function us() {
  const id = randomId();
  const node = { id, table: new RoutingTable(id), tokens: new Tokens(), store: new PeerStore() };
  node.table.answered({ id: randomId(), host: "10.0.0.9", port: 6881 });
  node.table.answered({ id: randomId(), host: "2001:db8:0:0:0:0:0:9", port: 6881 });
  return node;
}
const t = new Uint8Array([1, 2]);
const asker = { host: "10.0.0.1", port: 4000 };

Deno.test("answer(): announce_peer needs the asker's own token; implied_port takes the packet's port", () => {
  const node = us();
  const infoHash = randomId();
  const got = decodeKrpc(answer(node, t, { method: "get_peers", id: randomId(), infoHash }, asker));
  assert(got.y === "r" && got.r.token && got.r.nodes?.length === 1, "no peers yet: a token and nodes");
  const token = got.y === "r" ? got.r.token! : new Uint8Array();
  const other = { host: "10.0.0.2", port: 4000 };
  const stolen = decodeKrpc(
    answer(
      node,
      t,
      { method: "announce_peer", id: randomId(), infoHash, port: 1, token, impliedPort: false },
      other,
    ),
  );
  assert.deepEqual([stolen.y, stolen.y === "e" && stolen.code], ["e", 203], "a token from another address");
  answer(
    node,
    t,
    { method: "announce_peer", id: randomId(), infoHash, port: 9, token, impliedPort: true },
    asker,
  );
  assert.deepEqual(node.store.get(infoHash), [{ host: "10.0.0.1", port: 4000 }]);
  const peers = decodeKrpc(answer(node, t, { method: "get_peers", id: randomId(), infoHash }, other));
  assert(peers.y === "r" && peers.r.values?.length === 1 && peers.r.nodes === undefined, "now: the peer");
});

Deno.test("answer(): an unknown method gets error 204; an IPv6 asker gets nodes6 of IPv6 nodes only", () => {
  const node = us();
  const unknown = decodeKrpc(answer(node, t, { method: "unknown", id: randomId(), name: "vote" }, asker));
  assert.deepEqual([unknown.y, unknown.y === "e" && unknown.code], ["e", 204]);
  const v6 = decodeKrpc(
    answer(node, t, { method: "find_node", id: randomId(), target: randomId() }, {
      host: "2001:db8:0:0:0:0:0:1",
      port: 1,
    }),
  );
  assert(v6.y === "r" && v6.r.nodes === undefined && v6.r.nodes6?.[0].host === "2001:db8:0:0:0:0:0:9");
});
