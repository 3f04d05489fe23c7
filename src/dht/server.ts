/**
 * How a node answers other nodes' queries (BEP 5): `ping` with our id; `find_node` with the nodes we know nearest
 * the target (IPv4 nodes to an IPv4 asker in `nodes`, IPv6 ones in `nodes6`); `get_peers` with the peers announced
 * to us, or else the nearest nodes, and a token either way; `announce_peer` stores the peer when its token is
 * ours for that address, and refuses it with error 203 otherwise; any other method gets error 204.
 *
 * @module
 */

import type { PeerAddress } from "../common/peer_address.ts";
import { encodeError, encodeResponse, ERRORS, type Query } from "./krpc.ts";
import type { PeerStore } from "./peer_store.ts";
import { K, type RoutingTable } from "./routing_table.ts";
import type { Tokens } from "./tokens.ts";

/** What answering needs of the node. */
export interface Answering {
  id: Uint8Array;
  table: RoutingTable;
  tokens: Tokens;
  store: PeerStore;
}

/** The packet that answers query `q` (transaction `t`) from `from`. */
export function answer(node: Answering, t: Uint8Array, q: Query, from: PeerAddress): Uint8Array {
  const { id, table, tokens, store } = node;
  const ipv6 = from.host.includes(":");
  const near = (target: Uint8Array) => {
    const nodes = table.closest(target, K).filter((n) => n.host.includes(":") === ipv6);
    return ipv6 ? { nodes6: nodes } : { nodes };
  };
  switch (q.method) {
    case "ping":
      return encodeResponse(t, { id });
    case "find_node":
      return encodeResponse(t, { id, ...near(q.target) });
    case "get_peers": {
      const token = tokens.issue(from.host);
      const values = store.get(q.infoHash);
      return encodeResponse(
        t,
        values.length > 0 ? { id, token, values } : { id, token, ...near(q.infoHash) },
      );
    }
    case "announce_peer":
      if (!tokens.accepts(from.host, q.token)) return encodeError(t, ERRORS.protocol, "bad token");
      store.add(q.infoHash, { host: from.host, port: q.impliedPort ? from.port : q.port });
      return encodeResponse(t, { id });
    default:
      return encodeError(t, ERRORS.method, "method unknown");
  }
}
