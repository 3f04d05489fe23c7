/**
 * An iterative Kademlia lookup as plain bookkeeping: the candidates known so far, closest first; up to α=3
 * queries in flight at once, always to the closest candidates not yet asked; done when the K closest candidates
 * have all answered (or failed) and nothing is in flight. The node sends the queries and reports what came back.
 *
 * @module
 */

import type { NodeInfo } from "./krpc.ts";
import { compareDistance } from "./node_id.ts";
import { toHex } from "../common/bytes.ts";
import { K } from "./routing_table.ts";

/** Parallel queries of one lookup. */
export const ALPHA = 3;
/** Candidates kept at most: a lookup's memory does not grow with what nodes send. */
const MAX_CANDIDATES = 64;

type CandidateState = "new" | "asked" | "answered" | "failed";

interface Candidate {
  node: NodeInfo;
  key: string;
  state: CandidateState;
  /** The token it gave with its answer to `get_peers`. */
  token?: Uint8Array;
}

/** One lookup towards `target`. */
export class Lookup {
  #candidates: Candidate[] = [];
  readonly #seen = new Set<string>();
  /** Queries sent and not yet answered or failed. */
  inFlight = 0;
  /** Queries sent in all. */
  queried = 0;

  readonly #own?: string;

  /** A lookup towards `target`; `ownId`, our own id, is never a candidate. */
  constructor(readonly target: Uint8Array, ownId?: Uint8Array) {
    this.#own = ownId && toHex(ownId);
  }

  /** Adds nodes heard of (the table's closest at the start, then those in answers); ourselves and repeats are skipped. */
  add(nodes: NodeInfo[]): void {
    for (const node of nodes) {
      const key = toHex(node.id);
      if (this.#seen.has(key) || key === this.#own) continue;
      this.#seen.add(key);
      this.#candidates.push({ node, key, state: "new" });
    }
    this.#candidates.sort((a, b) => compareDistance(this.target, a.node.id, b.node.id));
    if (this.#candidates.length > MAX_CANDIDATES) {
      // Drop the farthest that are not waiting on an answer.
      this.#candidates = this.#candidates.filter((c, i) => i < MAX_CANDIDATES || c.state === "asked");
    }
  }

  /** The nodes to query now (marked asked): the closest not yet asked, while fewer than α are in flight. */
  next(): NodeInfo[] {
    const out: NodeInfo[] = [];
    for (const c of this.#candidates.slice(0, this.#horizon())) {
      if (this.inFlight >= ALPHA) break;
      if (c.state !== "new") continue;
      c.state = "asked";
      this.inFlight++;
      this.queried++;
      out.push(c.node);
    }
    return out;
  }

  /** `node` answered, with the nodes it knows nearer the target and (for `get_peers`) a token. */
  answered(node: NodeInfo, nodes: NodeInfo[] = [], token?: Uint8Array): void {
    const c = this.#find(node);
    if (!c || c.state !== "asked") return;
    c.state = "answered";
    c.token = token;
    this.inFlight--;
    this.add(nodes);
  }

  /** `node` did not answer in time, or answered with an error. */
  failed(node: NodeInfo): void {
    const c = this.#find(node);
    if (!c || c.state !== "asked") return;
    c.state = "failed";
    this.inFlight--;
  }

  /** Nothing in flight and nothing left worth asking: the K closest that can answer have. */
  get done(): boolean {
    if (this.inFlight > 0) return false;
    return !this.#candidates.slice(0, this.#horizon()).some((c) => c.state === "new");
  }

  /** The closest nodes that answered, closest first, with their tokens: where to announce. */
  closest(count: number = K): { node: NodeInfo; token?: Uint8Array }[] {
    return this.#candidates.filter((c) => c.state === "answered").slice(0, count).map(({ node, token }) => ({
      node,
      token,
    }));
  }

  /** How far down the list to look: far enough to find K candidates that did not fail. */
  #horizon(): number {
    let alive = 0;
    for (let i = 0; i < this.#candidates.length; i++) {
      if (this.#candidates[i].state !== "failed" && ++alive === K) return i + 1;
    }
    return this.#candidates.length;
  }

  #find(node: NodeInfo): Candidate | undefined {
    const key = toHex(node.id);
    return this.#candidates.find((c) => c.key === key);
  }
}
