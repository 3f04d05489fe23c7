/**
 * The swarm as a person watching it sees it, folded from trace records: every machine actor with its state and
 * how long it has been in it, the latest transitions, the latest sample (progress, piece map, peers' rates) and
 * a short history of the rates. The live view and replay both build it, so they show the same thing.
 *
 * @module
 */

import type { Sample, TraceRecord } from "./trace.ts";

export interface ActorView {
  id: string;
  machine: string;
  parent?: string;
  state: string;
  /** When it entered its state. */
  since: number;
  alive: boolean;
  /** Why a peer failed, when it did. */
  reason?: string;
}

export interface ViewSnapshot {
  /** The time the view stands at, and when the run began. */
  t: number;
  t0: number;
  torrent?: { name: string; infoHash: string; pieceCount: number; totalBytes: number };
  actors: ActorView[];
  /** The latest transitions, newest last. */
  recent: Extract<TraceRecord, { kind: "transition" }>[];
  sample?: Sample;
  /** Download and upload rates over time (bytes per second), oldest first. */
  rates: { t: number; down: number; up: number }[];
}

/** One actor up close: where it is, and its latest transitions (newest last). */
export interface ActorFocus {
  actor: ActorView;
  transitions: Extract<TraceRecord, { kind: "transition" }>[];
}

const RECENT = 60;
/** Transitions kept per actor, for a person who opens it. */
const HISTORY = 30;
const RATES = 240;
/** An actor that ended stays in view this long. */
const LINGER_MS = 20_000;

export class SwarmView {
  #t0?: number;
  #t = 0;
  #torrent?: ViewSnapshot["torrent"];
  #actors = new Map<string, ActorView>();
  #ended: { id: string; at: number }[] = [];
  #recent: ViewSnapshot["recent"] = [];
  #history = new Map<string, ViewSnapshot["recent"]>();
  #sample?: Sample;
  #rates: ViewSnapshot["rates"] = [];

  apply(r: TraceRecord): void {
    this.#t0 ??= r.t;
    this.#t = Math.max(this.#t, r.t);
    switch (r.kind) {
      case "torrent":
        this.#torrent = {
          name: r.name,
          infoHash: r.infoHash,
          pieceCount: r.pieceCount,
          totalBytes: r.totalBytes,
        };
        return;
      case "actor":
        this.#actors.set(r.id, {
          id: r.id,
          machine: r.machine,
          parent: r.parent,
          state: r.state,
          since: r.t,
          alive: true,
        });
        return;
      case "transition": {
        const a = this.#actors.get(r.id);
        if (a) {
          a.state = r.to;
          a.since = r.t;
          if (r.reason) a.reason = r.reason;
        }
        this.#recent.push(r);
        if (this.#recent.length > RECENT) this.#recent.shift();
        const own = this.#history.get(r.id) ?? [];
        own.push(r);
        if (own.length > HISTORY) own.shift();
        this.#history.set(r.id, own);
        return;
      }
      case "stopped": {
        const a = this.#actors.get(r.id);
        if (a) {
          a.alive = false;
          a.reason ??= "stopped";
          this.#ended.push({ id: r.id, at: r.t });
        }
        return;
      }
      case "sample": {
        this.#sample = r.sample;
        const down = r.sample.peers.reduce((n, p) => n + p.down, 0);
        const up = r.sample.peers.reduce((n, p) => n + p.up, 0);
        this.#rates.push({ t: r.t, down, up });
        if (this.#rates.length > RATES) this.#rates.shift();
        return;
      }
    }
  }

  /** One actor and its latest transitions; undefined once it left the view. */
  focus(id: string): ActorFocus | undefined {
    const actor = this.#actors.get(id);
    return actor && { actor: { ...actor }, transitions: [...this.#history.get(id) ?? []] };
  }

  /** The view now (or at `t`, the time replay stands at). */
  snapshot(t = this.#t): ViewSnapshot {
    while (this.#ended.length > 0 && this.#ended[0].at < t - LINGER_MS) {
      const { id } = this.#ended.shift()!;
      if (this.#actors.get(id)?.alive === false) {
        this.#actors.delete(id);
        this.#history.delete(id);
      }
    }
    return {
      t,
      t0: this.#t0 ?? t,
      torrent: this.#torrent,
      actors: [...this.#actors.values()].map((a) => ({ ...a })),
      recent: [...this.#recent],
      sample: this.#sample,
      rates: [...this.#rates],
    };
  }
}

/** The view of a recorded run at time `t`: every record up to `t` folded in order. */
export function viewAt(records: TraceRecord[], t: number): ViewSnapshot {
  return foldTo(records, t).snapshot(t);
}

/** One actor of a recorded run at time `t`. */
export function actorAt(records: TraceRecord[], t: number, id: string): ActorFocus | undefined {
  return foldTo(records, t).focus(id);
}

function foldTo(records: TraceRecord[], t: number): SwarmView {
  const view = new SwarmView();
  for (const r of records) {
    if (r.t > t) break;
    view.apply(r);
  }
  return view;
}
