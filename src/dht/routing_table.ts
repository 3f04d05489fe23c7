/**
 * The routing table of BEP 5: buckets of at most K=8 nodes by how many leading bits a node's id shares with
 * ours. Only the bucket our own id falls in splits, so the table knows many nodes near us and few far away.
 *
 * A node is good while it answered one of our queries in the last 15 minutes (or queried us, having answered
 * before), questionable after that, and bad once it failed to answer twice in a row. A full bucket replaces a
 * bad node at once; with only good and questionable ones, the newcomer waits in the bucket's replacement cache
 * and the node asks the least recently seen questionable node for a ping: if that fails, the newcomer moves in.
 * Nodes enter the table only when they answer us, so a spoofed query cannot fill it: an unknown node that queries
 * us and would get a place is pinged first.
 *
 * @module
 */

import type { NodeInfo } from "./krpc.ts";
import { commonPrefix, compareDistance } from "./node_id.ts";
import { toHex } from "../common/bytes.ts";

/** Nodes per bucket (BEP 5's K). */
export const K = 8;
/** A node that neither answered nor queried us for this long is questionable; a bucket this quiet is refreshed. */
export const QUESTIONABLE_MS = 15 * 60_000;
/** Failed queries in a row that make a node bad. */
const BAD_AFTER = 2;
const MAX_BUCKETS = 160;

/** A node in the table. */
export interface TableNode extends NodeInfo {
  /** When it last answered a query of ours. */
  answeredAt: number;
  /** When we last heard from it at all (an answer or a query). */
  seenAt: number;
  /** Queries it failed to answer, in a row. */
  failures: number;
}

interface Bucket {
  nodes: TableNode[];
  /** Nodes that answered while the bucket was full, newest last: they take the place of nodes that go bad. */
  spare: TableNode[];
  /** When a node last entered or answered: a bucket quiet for 15 minutes is refreshed. */
  changedAt: number;
}

/** What the node should do after `answered()`: ping a questionable node the newcomer may replace. */
export type TableAdvice = { ping: TableNode } | undefined;

/** The routing table around our id. */
export class RoutingTable {
  #buckets: Bucket[];
  readonly #byId = new Map<string, TableNode>();

  constructor(readonly ownId: Uint8Array, readonly now: () => number = Date.now) {
    this.#buckets = [{ nodes: [], spare: [], changedAt: now() }];
  }

  /** Nodes in the table. */
  get size(): number {
    return this.#byId.size;
  }

  /** Buckets in the table. */
  get bucketCount(): number {
    return this.#buckets.length;
  }

  /** The node with this id, if the table has it. */
  get(id: Uint8Array): TableNode | undefined {
    return this.#byId.get(toHex(id));
  }

  /** Good: answered in the last 15 minutes, or queried us in them having answered before, and not failing. */
  isGood(n: TableNode): boolean {
    const now = this.now();
    return n.failures === 0 &&
      (now - n.answeredAt < QUESTIONABLE_MS || (n.answeredAt > 0 && now - n.seenAt < QUESTIONABLE_MS));
  }

  #index(id: Uint8Array): number {
    return Math.min(commonPrefix(this.ownId, id), this.#buckets.length - 1);
  }

  /** A node answered one of our queries: it enters the table if there is room, or waits as a spare. */
  answered(info: NodeInfo): TableAdvice {
    if (commonPrefix(this.ownId, info.id) === 160) return; // our own id: never in our table
    const now = this.now();
    const known = this.get(info.id);
    if (known) {
      // The same id from another address is ignored: an id moves only when its old address goes bad.
      if (known.host !== info.host || known.port !== info.port) return;
      known.answeredAt = known.seenAt = now;
      known.failures = 0;
      this.#buckets[this.#index(info.id)].changedAt = now;
      return;
    }
    const node: TableNode = {
      id: info.id,
      host: info.host,
      port: info.port,
      answeredAt: now,
      seenAt: now,
      failures: 0,
    };
    for (;;) {
      const i = this.#index(node.id);
      const bucket = this.#buckets[i];
      if (bucket.nodes.length < K) {
        bucket.nodes.push(node);
        bucket.changedAt = now;
        this.#byId.set(toHex(node.id), node);
        return;
      }
      if (i === this.#buckets.length - 1 && this.#buckets.length < MAX_BUCKETS) {
        this.#split();
        continue;
      }
      const bad = bucket.nodes.findIndex((n) => n.failures >= BAD_AFTER);
      if (bad >= 0) {
        this.#byId.delete(toHex(bucket.nodes[bad].id));
        bucket.nodes[bad] = node;
        bucket.changedAt = now;
        this.#byId.set(toHex(node.id), node);
        return;
      }
      const key = toHex(node.id);
      bucket.spare = bucket.spare.filter((s) => toHex(s.id) !== key).slice(-(K - 1));
      bucket.spare.push(node);
      const questionable = bucket.nodes.filter((n) => !this.isGood(n)).sort((a, b) => a.seenAt - b.seenAt);
      return questionable.length > 0 ? { ping: questionable[0] } : undefined;
    }
  }

  /** True when a node with this id is not in the table and would get a place now (its bucket has room or splits). */
  wants(id: Uint8Array): boolean {
    if (this.get(id) || commonPrefix(this.ownId, id) === 160) return false;
    const i = this.#index(id);
    return this.#buckets[i].nodes.length < K ||
      (i === this.#buckets.length - 1 && this.#buckets.length < MAX_BUCKETS);
  }

  /** A known node queried us: it is still there. */
  queried(info: NodeInfo): void {
    const known = this.get(info.id);
    if (known && known.host === info.host && known.port === info.port) known.seenAt = this.now();
  }

  /** A query to this node went unanswered; a node that goes bad gives its place to the newest spare. */
  failed(id: Uint8Array): void {
    const node = this.get(id);
    if (!node || ++node.failures < BAD_AFTER) return;
    const bucket = this.#buckets[this.#index(id)];
    const spare = bucket.spare.pop();
    if (!spare) return; // a bad node stays until something better comes
    bucket.nodes[bucket.nodes.indexOf(node)] = spare;
    bucket.changedAt = this.now();
    this.#byId.delete(toHex(id));
    this.#byId.set(toHex(spare.id), spare);
  }

  /** The `count` nodes closest to `target` that are not bad, closest first. */
  closest(target: Uint8Array, count: number = K): TableNode[] {
    return [...this.#byId.values()]
      .filter((n) => n.failures < BAD_AFTER)
      .sort((a, b) => compareDistance(target, a.id, b.id))
      .slice(0, count);
  }

  /** Every node, for saving the table. */
  nodes(): TableNode[] {
    return [...this.#byId.values()];
  }

  /** The indices of buckets quiet for 15 minutes: each wants a `find_node` for a random id in its range. */
  staleBuckets(): number[] {
    const now = this.now();
    return this.#buckets.flatMap((b, i) => now - b.changedAt >= QUESTIONABLE_MS ? [i] : []);
  }

  /** Splits the last bucket: nodes sharing more bits with us than its index move to a new last bucket. */
  #split(): void {
    const last = this.#buckets[this.#buckets.length - 1];
    const depth = this.#buckets.length - 1;
    const near: Bucket = { nodes: [], spare: [], changedAt: last.changedAt };
    const keep = (n: TableNode) => commonPrefix(this.ownId, n.id) === depth;
    near.nodes = last.nodes.filter((n) => !keep(n));
    near.spare = last.spare.filter((n) => !keep(n));
    last.nodes = last.nodes.filter(keep);
    last.spare = last.spare.filter(keep);
    this.#buckets.push(near);
  }
}
