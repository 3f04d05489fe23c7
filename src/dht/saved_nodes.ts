/**
 * The routing table saved between runs: our node id and the nodes we knew, as a small JSON file. Reading it is
 * strict (a version, a 40-hex-digit id, at most `MAX_SAVED` nodes each with a hex id, an IP address and a port): a
 * corrupt or foreign file is refused with one line. Saved nodes are only asked again, never trusted into the table.
 *
 * @module
 */

import type { NodeInfo } from "./krpc.ts";
import { fromHex, toHex } from "../common/bytes.ts";

/** The most nodes saved. */
export const MAX_SAVED = 300;
const VERSION = 1;

/** What a run leaves for the next: our id and the nodes it knew. */
export interface SavedNodes {
  /** Our node id, kept so other nodes' tables stay right about us. */
  id: Uint8Array;
  /** The nodes we knew, nearest our id first. */
  nodes: NodeInfo[];
}

/** The file's text for `saved` (the first `MAX_SAVED` nodes). */
export function encodeSavedNodes(saved: SavedNodes): string {
  const nodes = saved.nodes.slice(0, MAX_SAVED).map((n) => ({ id: toHex(n.id), host: n.host, port: n.port }));
  return JSON.stringify({ actorrent: "dht-nodes", version: VERSION, id: toHex(saved.id), nodes }) + "\n";
}

const HEX40 = /^[0-9a-f]{40}$/;
const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const IPV6 = /^[0-9a-f:]{2,39}$/i;

/** Reads a saved file; throws `SyntaxError` with the reason when it is not one of ours or is damaged. */
export function decodeSavedNodes(text: string): SavedNodes {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw new SyntaxError("not JSON");
  }
  const o = v as { actorrent?: unknown; version?: unknown; id?: unknown; nodes?: unknown };
  if (typeof v !== "object" || v === null || o.actorrent !== "dht-nodes") {
    throw new SyntaxError("not a saved DHT table");
  }
  if (o.version !== VERSION) throw new SyntaxError(`version ${String(o.version)}, not ${VERSION}`);
  if (typeof o.id !== "string" || !HEX40.test(o.id)) {
    throw new SyntaxError("the node id is not 40 hex digits");
  }
  if (!Array.isArray(o.nodes) || o.nodes.length > MAX_SAVED) {
    throw new SyntaxError("no list of nodes, or too many");
  }
  const nodes = o.nodes.map((n: { id?: unknown; host?: unknown; port?: unknown }, i) => {
    const ok = typeof n === "object" && n !== null && typeof n.id === "string" && HEX40.test(n.id) &&
      typeof n.host === "string" && (IPV4.test(n.host) || (n.host.includes(":") && IPV6.test(n.host))) &&
      Number.isInteger(n.port) && (n.port as number) >= 1 && (n.port as number) <= 65535;
    if (!ok) throw new SyntaxError(`node ${i} is not an id, an IP address and a port`);
    return { id: fromHex(n.id as string), host: n.host as string, port: n.port as number };
  });
  return { id: fromHex(o.id), nodes };
}
