/**
 * A Mainline DHT node (BEP 5) as plain code over a transport it is given: it answers `ping`, `find_node`,
 * `get_peers` and `announce_peer`, sends the same queries with transaction ids it checks (an answer from another
 * address than the one asked is ignored), and runs iterative lookups. The actor (`actors/dht.ts`) gives it a UDP
 * socket; tests give it an in-memory network of hundreds of nodes.
 *
 * Every packet that is not well-formed KRPC is dropped and counted; queries out are rate-limited, and the
 * transactions, the table, the peer store and each lookup are bounded.
 *
 * @module
 */

import type { PeerAddress } from "../common/peer_address.ts";
import { decodeKrpc, encodeQuery, type Message, type NodeInfo, type Query, type Response } from "./krpc.ts";
import { Lookup } from "./lookup.ts";
import { randomId, randomIdInBucket } from "./node_id.ts";
import { PeerStore } from "./peer_store.ts";
import { K, RoutingTable } from "./routing_table.ts";
import { answer } from "./server.ts";
import { Tokens } from "./tokens.ts";

/** How the node sends a datagram. */
export interface DhtTransport {
  send(packet: Uint8Array, to: PeerAddress): void;
}

/** What the node counts, for a person watching and for the closing figures. */
export interface DhtStats {
  /** Datagrams received, and sent. */
  received: number;
  sent: number;
  /** Datagrams that were not well-formed KRPC. */
  malformed: number;
  /** Answers to no query of ours, or from another address than the one asked. */
  unmatched: number;
  /** Datagrams dropped because too many came at once. */
  flooded: number;
  /** Queries of ours that got no answer in time. */
  timeouts: number;
}

/** How a node is set up. */
export interface DhtNodeOptions {
  transport: DhtTransport;
  id?: Uint8Array;
  /** An unanswered query fails after this long (default 3 s). */
  queryTimeoutMs?: number;
  /** Queries sent per second at most; more wait their turn (default 200). */
  queriesPerSecond?: number;
  /** Datagrams handled per second at most; more are dropped (default 2,000). */
  receivePerSecond?: number;
  now?: () => number;
}

/** What a lookup found: the closest nodes that answered (with their `get_peers` tokens) and every peer heard of. */
export interface LookupResult {
  closest: { node: NodeInfo; token?: Uint8Array }[];
  peers: PeerAddress[];
  /** Queries the lookup sent. */
  queried: number;
}

interface Pending {
  to: PeerAddress;
  resolve: (r: Response) => void;
  reject: (e: Error) => void;
  timer: ReturnType<typeof setTimeout>;
}

const MAX_PENDING = 1024;
const MAX_QUEUED = 2048;

/** One DHT node. */
export class DhtNode {
  readonly id: Uint8Array;
  readonly table: RoutingTable;
  readonly tokens: Tokens;
  readonly store: PeerStore;
  readonly stats: DhtStats = { received: 0, sent: 0, malformed: 0, unmatched: 0, flooded: 0, timeouts: 0 };
  readonly #o: Required<Omit<DhtNodeOptions, "id">>;
  readonly #pending = new Map<number, Pending>();
  #nextT = Math.floor(Math.random() * 65536);
  #queue: (() => void)[] = [];
  #window = { start: 0, sent: 0, received: 0 };
  #drain?: ReturnType<typeof setTimeout>;
  #closed = false;
  /** Unknown nodes that queried us and are being pinged before they may enter the table. */
  readonly #verifying = new Set<string>();

  constructor(options: DhtNodeOptions) {
    this.#o = {
      transport: options.transport,
      queryTimeoutMs: options.queryTimeoutMs ?? 3000,
      queriesPerSecond: options.queriesPerSecond ?? 200,
      receivePerSecond: options.receivePerSecond ?? 2000,
      now: options.now ?? Date.now,
    };
    this.id = options.id ?? randomId();
    this.table = new RoutingTable(this.id, this.#o.now);
    this.tokens = new Tokens(this.#o.now);
    this.store = new PeerStore(200, 20_000, 2_000, this.#o.now);
  }

  /** Queries sent and not yet answered. */
  get pendingQueries(): number {
    return this.#pending.size;
  }

  /** Handles one datagram from `from`. Never throws. */
  receive(packet: Uint8Array, from: PeerAddress): void {
    if (this.#closed) return;
    this.#tickWindow();
    if (++this.#window.received > this.#o.receivePerSecond) {
      this.stats.flooded++;
      return;
    }
    this.stats.received++;
    let msg: Message;
    try {
      msg = decodeKrpc(packet);
    } catch {
      this.stats.malformed++;
      return;
    }
    if (msg.y === "q") return this.#answer(msg.t, msg.q, from);
    const t = msg.t.length === 2 ? (msg.t[0] << 8) | msg.t[1] : -1;
    const pending = this.#pending.get(t);
    if (!pending || pending.to.host !== from.host || pending.to.port !== from.port) {
      this.stats.unmatched++;
      return;
    }
    this.#pending.delete(t);
    clearTimeout(pending.timer);
    if (msg.y === "e") return pending.reject(new Error(`DHT error ${msg.code}: ${msg.message}`));
    const advice = this.table.answered({ id: msg.r.id, host: from.host, port: from.port });
    if (advice) this.ping(advice.ping).catch(() => {});
    pending.resolve(msg.r);
  }

  /** Sends `q` to `to`; resolves with the answer, rejects on an error answer or after the time-out. */
  query(to: PeerAddress, q: Query): Promise<Response> {
    if (this.#closed) return Promise.reject(new Error("the DHT node is closed"));
    if (this.#pending.size + this.#queue.length >= MAX_PENDING + MAX_QUEUED) {
      return Promise.reject(new Error("too many DHT queries waiting"));
    }
    return new Promise((resolve, reject) => {
      this.#queue.push(() => {
        if (this.#closed) return reject(new Error("the DHT node is closed"));
        const t = this.#nextT = (this.#nextT + 1) & 0xffff;
        this.#pending.get(t)?.reject(new Error("transaction id reused"));
        const timer = setTimeout(() => {
          if (this.#pending.get(t)?.timer !== timer) return;
          this.#pending.delete(t);
          this.stats.timeouts++;
          if ("id" in to) this.table.failed((to as NodeInfo).id);
          reject(new Error(`no answer from ${to.host}:${to.port}`));
        }, this.#o.queryTimeoutMs);
        this.#pending.set(t, { to, resolve, reject, timer });
        this.#send(encodeQuery(new Uint8Array([t >> 8, t & 0xff]), q), to);
      });
      this.#pump();
    });
  }

  /** `ping`: is `to` there? */
  ping(to: PeerAddress): Promise<Response> {
    return this.query(to, { method: "ping", id: this.id });
  }

  /** Asks `to` for the nodes it knows nearest `target`. */
  findNode(to: PeerAddress, target: Uint8Array): Promise<Response> {
    return this.query(to, { method: "find_node", id: this.id, target });
  }

  /** Asks `to` for peers of `infoHash` (or the nodes nearest it), and a token to announce with. */
  getPeers(to: PeerAddress, infoHash: Uint8Array): Promise<Response> {
    return this.query(to, { method: "get_peers", id: this.id, infoHash });
  }

  /** Tells `to` that we have `infoHash` on `port` (`token` from its `get_peers` answer). */
  announcePeer(to: PeerAddress, infoHash: Uint8Array, port: number, token: Uint8Array): Promise<Response> {
    return this.query(to, {
      method: "announce_peer",
      id: this.id,
      infoHash,
      port,
      token,
      impliedPort: false,
    });
  }

  /**
   * An iterative lookup towards `target`: `find_node` to fill the table, `get_peers` to find peers (each batch
   * of peers goes to `onPeers` as it comes). Starts from the table's closest nodes and `seeds`.
   */
  async lookup(
    target: Uint8Array,
    method: "find_node" | "get_peers",
    options: { seeds?: NodeInfo[]; onPeers?: (peers: PeerAddress[]) => void } = {},
  ): Promise<LookupResult> {
    const lookup = new Lookup(target, this.id);
    lookup.add([...this.table.closest(target, K), ...(options.seeds ?? [])]);
    const peers = new Map<string, PeerAddress>();
    if (method === "get_peers") {
      // Peers announced to us count too: when we are among the nodes nearest the infohash, they are here.
      const local = this.store.get(target);
      for (const p of local) peers.set(`${p.host}:${p.port}`, p);
      if (local.length > 0) options.onPeers?.(local);
    }
    await new Promise<void>((done) => {
      const step = () => {
        if (this.#closed || lookup.done) return done();
        for (const node of lookup.next()) {
          const asked = method === "find_node" ? this.findNode(node, target) : this.getPeers(node, target);
          asked.then((r) => {
            const fresh = (r.values ?? []).filter((p) => !peers.has(`${p.host}:${p.port}`));
            for (const p of fresh) peers.set(`${p.host}:${p.port}`, p);
            if (fresh.length > 0) options.onPeers?.(fresh);
            lookup.answered(node, [...(r.nodes ?? []), ...(r.nodes6 ?? [])], r.token);
          }, () => lookup.failed(node)).finally(step);
        }
        if (lookup.done) done();
      };
      step();
    });
    return { closest: lookup.closest(), peers: [...peers.values()], queried: lookup.queried };
  }

  /**
   * Joins the DHT through `routers` (addresses without known ids): asks them for our neighbourhood, looks it up,
   * then looks up a random id in each farther bucket. Resolves with the number of nodes in the table.
   */
  async bootstrap(routers: PeerAddress[]): Promise<number> {
    const seeds: NodeInfo[] = [];
    await Promise.all(routers.map(async (router) => {
      try {
        const r = await this.findNode(router, this.id);
        seeds.push(...(r.nodes ?? []), ...(r.nodes6 ?? []));
      } catch { /* a router that does not answer */ }
    }));
    await this.lookup(this.id, "find_node", { seeds });
    // Our own lookup only meets nodes near us: one lookup into each farther bucket's range fills the rest.
    const far = Array.from({ length: this.table.bucketCount - 1 }, (_, i) => randomIdInBucket(this.id, i));
    await Promise.all(far.map((target) => this.lookup(target, "find_node")));
    return this.table.size;
  }

  /**
   * Announces that we have `infoHash` on `port`: a `get_peers` lookup (whose peers go to `onPeers`), then
   * `announce_peer` to the closest nodes that gave a token. Resolves with how many accepted.
   */
  async announce(
    infoHash: Uint8Array,
    port: number,
    onPeers?: (peers: PeerAddress[]) => void,
  ): Promise<LookupResult & { accepted: number }> {
    const result = await this.lookup(infoHash, "get_peers", { onPeers });
    return { ...result, accepted: await this.announceTo(result.closest, infoHash, port) };
  }

  /** `announce_peer` to each of `closest` that gave a token; resolves with how many accepted. */
  async announceTo(closest: LookupResult["closest"], infoHash: Uint8Array, port: number): Promise<number> {
    const answers = await Promise.allSettled(
      closest.filter((c) => c.token).map((c) => this.announcePeer(c.node, infoHash, port, c.token!)),
    );
    return answers.filter((a) => a.status === "fulfilled").length;
  }

  /** Refreshes buckets that were quiet for 15 minutes with a lookup of a random id in each. */
  async refresh(): Promise<void> {
    await Promise.all(
      this.table.staleBuckets().map((i) => this.lookup(randomIdInBucket(this.id, i), "find_node")),
    );
  }

  /** Stops: pending queries fail, nothing more is sent. */
  close(): void {
    this.#closed = true;
    clearTimeout(this.#drain);
    for (const p of this.#pending.values()) {
      clearTimeout(p.timer);
      p.reject(new Error("the DHT node is closed"));
    }
    this.#pending.clear();
    for (const send of this.#queue) send();
    this.#queue = [];
  }

  #answer(t: Uint8Array, q: Query, from: PeerAddress): void {
    this.table.queried({ id: q.id, host: from.host, port: from.port });
    this.#verify(q.id, from);
    this.#send(answer(this, t, q, from), from);
  }

  /** Pings an unknown node that queried us if the table would take it: if it answers, it enters. */
  #verify(id: Uint8Array, from: PeerAddress): void {
    const key = `${from.host}:${from.port}`;
    if (this.#verifying.has(key) || this.#verifying.size >= 256 || !this.table.wants(id)) return;
    this.#verifying.add(key);
    this.ping(from).catch(() => {}).finally(() => this.#verifying.delete(key));
  }

  #send(packet: Uint8Array, to: PeerAddress): void {
    this.stats.sent++;
    try {
      this.#o.transport.send(packet, to);
    } catch { /* a send that fails is a query that times out */ }
  }

  #tickWindow(): void {
    const now = this.#o.now();
    if (now - this.#window.start >= 1000) this.#window = { start: now, sent: 0, received: 0 };
  }

  /** Sends queued queries as the rate allows; the rest wait for the next second. */
  #pump(): void {
    this.#tickWindow();
    while (this.#queue.length > 0 && this.#window.sent < this.#o.queriesPerSecond) {
      this.#window.sent++;
      this.#queue.shift()!();
    }
    if (this.#queue.length > 0 && this.#drain === undefined) {
      const wait = Math.max(1, 1000 - (this.#o.now() - this.#window.start));
      this.#drain = setTimeout(() => {
        this.#drain = undefined;
        this.#pump();
      }, wait);
    }
  }
}
