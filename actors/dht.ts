/**
 * The DHT node as an actor: one UDP socket (`node:dgram`) and the `DhtNode` over it, joining the DHT through its
 * bootstrap nodes, then answering other nodes and running lookups. Each lookup a torrent asks for is a child
 * actor of its own (`lookup-1`, `lookup-2`, …), so the live view and the trace show what is being looked up and
 * what it found.
 *
 *   binding → bootstrapping → ready
 *      └──→ failed (the port cannot be bound)
 *
 * It tells its parent `dht.ready` (nodes, buckets), `dht.peers` (an infohash and peers found for it), and counts
 * the node's traffic every few seconds (`dht.stats`).
 *
 * @module
 */

import { lookup } from "node:dns/promises";
import { assign, enqueueActions, fromCallback, fromPromise, sendParent, setup } from "xstate";
import type { PeerAddress } from "../src/common/peer_address.ts";
import { UdpPort } from "../src/common/udp_port.ts";
import { MAX_SAVED, type SavedNodes } from "../src/dht/saved_nodes.ts";
import { DhtNode, type DhtStats, type LookupResult } from "../src/dht/node.ts";
import { ticker } from "./ticker.ts";

/** How a download uses the DHT (the library's `dht` option). */
export interface DhtOptions {
  /** Where to join: `--dht-bootstrap` nodes, or the well-known routers. */
  bootstrap: PeerAddress[];
  /** An unanswered query fails after this long (default 3 s). */
  queryTimeoutMs?: number;
  /** The table an earlier run saved: its node id is ours again, and its nodes are asked beside `bootstrap`. */
  saved?: SavedNodes;
  /** Hears, when the node stops, what to save for the next run (our id and the table's nodes). */
  onStop?: (saved: SavedNodes) => void;
}

/** What the DHT actor is given. */
export interface DhtInput extends DhtOptions {
  /** The UDP port: the same number as the peer listener's TCP port, as other clients expect. */
  port: number;
  /** Address to bind (default all IPv4 interfaces). */
  host?: string;
  /** Our node id (default: the saved one, or a random one). */
  id?: Uint8Array;
  /** The UDP port shared with uTP, already bound: used instead of binding `port`. */
  udp?: UdpPort;
}

/** What the DHT actor can be asked. */
export type DhtCommand =
  /** Find peers for `infoHash`, and announce us on `port` when given. */
  | { type: "dht.lookup"; infoHash: Uint8Array; announcePort?: number }
  /** A peer said it runs a DHT node there (the `port` message): ping it, so it may join the table. */
  | { type: "dht.node"; host: string; port: number };

/** What the DHT actor tells its parent. */
export type DhtReport =
  | { type: "dht.ready"; nodes: number; buckets: number }
  | { type: "dht.peers"; infoHash: Uint8Array; peers: PeerAddress[] }
  | { type: "dht.failed"; error: string };

type Internal =
  | { type: "socket.bound"; node: DhtNode; port: number }
  | { type: "socket.failed"; error: string }
  | { type: "lookup.peers"; infoHash: Uint8Array; peers: PeerAddress[] }
  /** A lookup ended: how many queries it sent, how many peers it found, how many nodes took our announce. */
  | {
    type: "lookup.done";
    id: string;
    infoHash: Uint8Array;
    queried: number;
    peers: number;
    announced?: number;
  }
  | { type: "tick" };

/** The DHT actor's context: its node and the numbers a person watching sees. */
export interface DhtContext {
  input: DhtInput;
  /** The node, once the socket is bound: the machine's one bookkeeping object. */
  node?: DhtNode;
  port?: number;
  /** For a person watching: the table's size, lookups so far, peers found, and the traffic counters. */
  nodes: number;
  buckets: number;
  lookups: number;
  peersFound: number;
  /** Seconds since the node was ready: every 60th refreshes the quiet buckets. */
  ticks: number;
  stats?: DhtStats;
  error?: string;
}

/** The UDP socket (shared with uTP, or its own) and the node over it; `socket.bound` hands the node to the machine. */
export const dhtSocket = fromCallback<{ type: "close" }, DhtInput, Internal>(({ input, sendBack }) => {
  let udp: UdpPort | undefined;
  let stopped = false;
  const node = new DhtNode({
    id: input.id ?? input.saved?.id,
    queryTimeoutMs: input.queryTimeoutMs,
    transport: { send: (packet, to) => udp?.send(packet, to.host, to.port) },
  });
  const attach = (port: UdpPort) => {
    udp = port;
    port.dht = (packet, from) => node.receive(packet, from);
    sendBack({ type: "socket.bound", node, port: port.port });
  };
  if (input.udp) attach(input.udp);
  else {
    UdpPort.bind(input.port, input.host).then(
      (port) => stopped ? port.close() : attach(port),
      (e: Error) => sendBack({ type: "socket.failed", error: `DHT: ${e.message}` }),
    );
  }
  return () => {
    input.onStop?.({ id: node.id, nodes: node.table.closest(node.id, MAX_SAVED) });
    node.close();
    stopped = true; // a bind still under way closes its socket when done
    if (udp && udp !== input.udp) udp.close(); // a shared port is its owner's to close
    else if (udp) udp.dht = undefined;
  };
});

/** Joins through the bootstrap nodes and the saved ones; resolves with the table's size. */
export const dhtBootstrap = fromPromise<number, { node: DhtNode; input: DhtInput }>(
  async ({ input: { node, input } }) => {
    // Answers come from addresses, not names: routers given by name are looked up first.
    const family = input.host?.includes(":") ? 6 : 4;
    const routers = await Promise.all(input.bootstrap.map(async (r) => {
      try {
        return { host: (await lookup(r.host, { family })).address, port: r.port };
      } catch {
        return undefined;
      }
    }));
    return node.bootstrap([...routers.filter((r) => r !== undefined), ...(input.saved?.nodes ?? [])]);
  },
);

/** What a lookup actor is given. */
interface LookupInput {
  node: DhtNode;
  infoHash: Uint8Array;
  /** Announce us on this port to the nearest nodes once found. */
  announcePort?: number;
  id: string;
}

/** The `get_peers` search itself: peers go to the machine as they come, then the nearest nodes found. */
const searchPeers = fromCallback<
  { type: "never" },
  LookupInput,
  Internal | { type: "searched"; result: LookupResult }
>(
  ({ input: { node, infoHash }, sendBack }) => {
    const onPeers = (peers: PeerAddress[]) => sendBack({ type: "lookup.peers", infoHash, peers });
    node.lookup(infoHash, "get_peers", { onPeers }).then(
      (result) => sendBack({ type: "searched", result }),
      () => sendBack({ type: "searched", result: { closest: [], peers: [], queried: 0 } }),
    );
  },
);

/** `announce_peer` to the nearest nodes that gave a token. */
const announceToNearest = fromPromise<
  number,
  { node: DhtNode; result: LookupResult; infoHash: Uint8Array; port: number }
>(
  ({ input }) => input.node.announceTo(input.result.closest, input.infoHash, input.port),
);

/** One lookup, an actor of its own: searching → announcing (when we have a port to announce) → done. */
export const lookupMachine = setup({
  types: {
    input: {} as LookupInput,
    context: {} as LookupInput & { result?: LookupResult; peers: number; announced?: number },
    events: {} as Internal | { type: "searched"; result: LookupResult },
  },
  actors: { search: searchPeers, announce: announceToNearest },
  actions: {
    /** Passes peers on to the DHT actor as they are found. */
    forward: enqueueActions(({ context, event, enqueue }) => {
      const e = event as Extract<Internal, { type: "lookup.peers" }>;
      enqueue.assign({ peers: context.peers + e.peers.length });
      enqueue.sendParent(e);
    }),
    keepResult: assign({ result: ({ event }) => (event as { result: LookupResult }).result }),
    /** Tells the DHT actor how it went; it stops this actor. */
    report: sendParent(({ context }) => ({
      type: "lookup.done" as const,
      id: context.id,
      infoHash: context.infoHash,
      queried: context.result?.queried ?? 0,
      peers: context.peers,
      announced: context.announced,
    })),
  },
  guards: { announcing: ({ context }) => context.announcePort !== undefined },
}).createMachine({
  id: "lookup",
  context: ({ input }) => ({ ...input, peers: 0 }),
  initial: "searching",
  states: {
    searching: {
      invoke: { src: "search", input: ({ context }) => context },
      on: {
        "lookup.peers": { actions: "forward" },
        "searched": [
          { guard: "announcing", target: "announcing", actions: "keepResult" },
          { target: "done", actions: "keepResult" },
        ],
      },
    },
    announcing: {
      invoke: {
        src: "announce",
        input: ({ context }) => ({
          node: context.node,
          result: context.result!,
          infoHash: context.infoHash,
          port: context.announcePort!,
        }),
        onDone: { target: "done", actions: assign({ announced: ({ event }) => event.output }) },
        onError: { target: "done" },
      },
    },
    done: { entry: "report" },
  },
});

/** The DHT node: binding → bootstrapping → ready, with one child actor per lookup. */
export const dhtMachine = setup({
  types: {
    context: {} as DhtContext,
    input: {} as DhtInput,
    events: {} as DhtCommand | Internal,
  },
  actors: { socket: dhtSocket, bootstrap: dhtBootstrap, lookup: lookupMachine, ticker },
  actions: {
    /** Starts a lookup actor for the infohash asked for. */
    startLookup: enqueueActions(({ context, event, enqueue }) => {
      const e = event as Extract<DhtCommand, { type: "dht.lookup" }>;
      const id = `lookup-${context.lookups + 1}`;
      enqueue.assign({ lookups: context.lookups + 1 });
      enqueue.spawnChild("lookup", {
        id,
        input: { node: context.node!, infoHash: e.infoHash, announcePort: e.announcePort, id },
      });
    }),
    forwardPeers: enqueueActions(({ context, event, enqueue }) => {
      const e = event as Extract<Internal, { type: "lookup.peers" }>;
      enqueue.assign({ peersFound: context.peersFound + e.peers.length });
      enqueue.sendParent({ type: "dht.peers", infoHash: e.infoHash, peers: e.peers } satisfies DhtReport);
    }),
    endLookup: enqueueActions(({ event, enqueue }) => {
      enqueue.stopChild((event as Extract<Internal, { type: "lookup.done" }>).id);
    }),
    pingNode: ({ context, event }) => {
      const { host, port } = event as Extract<DhtCommand, { type: "dht.node" }>;
      context.node?.ping({ host, port }).catch(() => {});
    },
    /** Refreshes, once a minute, the buckets that were quiet for 15 minutes (BEP 5). */
    refreshBuckets: enqueueActions(({ context, enqueue }) => {
      enqueue.assign({ ticks: context.ticks + 1 });
      if ((context.ticks + 1) % 60 === 0) context.node?.refresh().catch(() => {});
    }),
    /** Reads the node's table size and counters into context, for the live view. */
    sample: assign(({ context }) => ({
      nodes: context.node?.table.size ?? 0,
      buckets: context.node?.table.bucketCount ?? 0,
      stats: context.node ? { ...context.node.stats } : undefined,
    })),
  },
}).createMachine({
  id: "dht",
  context: ({ input }) => ({ input, nodes: 0, buckets: 0, lookups: 0, peersFound: 0, ticks: 0 }),
  invoke: { id: "socket", src: "socket", input: ({ context }) => context.input },
  on: {
    "lookup.peers": { actions: "forwardPeers" },
    "lookup.done": { actions: ["endLookup", "sample"] },
    "socket.failed": {
      target: ".failed",
      actions: [
        assign({ error: ({ event }) => event.error }),
        sendParent(({ event }) => ({ type: "dht.failed", error: event.error }) satisfies DhtReport),
      ],
    },
  },
  initial: "binding",
  states: {
    binding: {
      on: {
        "socket.bound": {
          target: "bootstrapping",
          actions: assign({ node: ({ event }) => event.node, port: ({ event }) => event.port }),
        },
      },
    },
    bootstrapping: {
      invoke: {
        id: "bootstrap",
        src: "bootstrap",
        input: ({ context }) => ({ node: context.node!, input: context.input }),
        onDone: { target: "ready" },
        onError: { target: "ready" },
      },
      // A lookup asked for while joining starts from the nodes known so far.
      on: { "dht.lookup": { actions: "startLookup" }, "dht.node": { actions: "pingNode" } },
    },
    ready: {
      entry: [
        "sample",
        sendParent(({ context }) =>
          ({ type: "dht.ready", nodes: context.nodes, buckets: context.buckets }) satisfies DhtReport
        ),
      ],
      invoke: { src: "ticker" },
      on: {
        "dht.lookup": { actions: "startLookup" },
        "dht.node": { actions: "pingNode" },
        "tick": { actions: ["sample", "refreshBuckets"] },
      },
    },
    failed: { type: "final" },
  },
});
