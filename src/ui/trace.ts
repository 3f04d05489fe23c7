/**
 * The trace: every machine actor created and stopped and every transition (actor, from, event, to, time), plus a
 * sample of the numbers once in a while, as records that are written one JSON object per line (`--trace`) and
 * folded by the live view and by replay alike. `TraceRecorder` makes records from XState's inspection events;
 * it does as little as it can per event, because it sees every event of every actor.
 *
 * @module
 */

import type { InspectionEvent } from "xstate";

/** A peer as a sample shows it. */
export interface PeerSample {
  /** The peer's address as `host:port`. */
  id: string;
  /** The peer's client, read from its peer id. */
  client?: string;
  /** Payload bytes per second from the peer. */
  down: number;
  /** Payload bytes per second to the peer. */
  up: number;
  /** Pieces the peer has. */
  pieces: number;
  /** The peer dialled us. */
  incoming: boolean;
  /** How the bytes travel: `tcp plain`, `utp rc4`, `tcp obfuscated`, …, or `http` for a web seed. */
  transport?: string;
  /** The pieces it is fetching for us now. */
  inFlight?: number[];
}

/** The numbers at one moment. */
export interface Sample {
  /** The supervisor's state. */
  state: string;
  /** The torrent's size in bytes. */
  totalBytes: number;
  /** Bytes in pieces verified on disk. */
  verifiedBytes: number;
  /** Payload bytes uploaded to peers. */
  uploadedBytes: number;
  /** Addresses heard of, connected or not. */
  knownPeers: number;
  /** Connections peers opened to us that were closed before they sent a byte (absent in older traces). */
  silentClosed?: number;
  /** One character per piece: `.` missing, `r` requested, `h` being hashed, `v` verified, `x` failed its hash. */
  pieces: string;
  /** Every peer actor with its rates. */
  peers: PeerSample[];
  /** What the trackers said last. */
  tracker?: string;
  /** The DHT node, when it runs. */
  dht?: DhtSample;
}

/** The DHT node as a sample shows it. */
export interface DhtSample {
  /** Its state: binding, bootstrapping, ready, failed. */
  state: string;
  /** Nodes in its routing table. */
  nodes: number;
  /** Buckets in its routing table. */
  buckets: number;
  /** Lookups started so far. */
  lookups: number;
  /** Lookups running now. */
  running: number;
  /** Peers the lookups found. */
  peersFound: number;
  /** Datagrams received. */
  received: number;
  /** Datagrams sent. */
  sent: number;
  /** Datagrams dropped as not well-formed KRPC. */
  malformed: number;
}

export type TraceRecord =
  | { t: number; kind: "actor"; id: string; machine: string; parent?: string; state: string }
  | { t: number; kind: "transition"; id: string; from: string; event: string; to: string; reason?: string }
  | { t: number; kind: "stopped"; id: string }
  | { t: number; kind: "sample"; sample: Sample }
  | { t: number; kind: "torrent"; name: string; infoHash: string; pieceCount: number; totalBytes: number };

/** `connected.choked` for `{ connected: "choked" }`. */
export function stateString(value: unknown): string {
  if (typeof value === "string") return value;
  if (typeof value !== "object" || value === null) return String(value);
  return Object.entries(value as Record<string, unknown>)
    .map(([k, v]) => {
      const inner = stateString(v);
      return inner === "" || (typeof v === "object" && v !== null && Object.keys(v).length === 0)
        ? k
        : `${k}.${inner}`;
    })
    .join(",");
}

interface Tracked {
  id: string;
  state: string;
  value: unknown;
}

/** Machines whose actors are traced (links, trackers and timers are plain callbacks and are not). */
function machineId(logic: unknown): string | undefined {
  const l = logic as { root?: unknown; id?: string } | undefined;
  return l && l.root !== undefined ? l.id ?? "machine" : undefined;
}

/** Turns XState inspection events into trace records for `emit`. */
export class TraceRecorder {
  readonly #actors = new Map<string, Tracked>();

  constructor(readonly emit: (r: TraceRecord) => void, readonly now: () => number = Date.now) {}

  /** Pass this as `inspect` to `createActor` (or `startDownload`). */
  readonly inspect = (e: InspectionEvent): void => {
    if (e.type === "@xstate.actor") {
      const machine = machineId((e.actorRef as { logic?: unknown }).logic);
      if (!machine) return;
      const ref = e.actorRef as unknown as { sessionId: string; id: string; _parent?: unknown };
      // A child's id is the one its parent gave it (a peer's is its address); the root goes by its machine's.
      this.#actors.set(ref.sessionId, { id: ref._parent ? ref.id : machine, state: "", value: undefined });
      return;
    }
    if (e.type !== "@xstate.snapshot") return;
    const tracked = this.#actors.get(e.actorRef.sessionId);
    if (!tracked) return;
    const snap = e.snapshot as { value?: unknown; status?: string; context?: { reason?: string } };
    if (snap.value !== tracked.value) {
      const state = stateString(snap.value);
      tracked.value = snap.value;
      if (state !== tracked.state) {
        const t = this.now();
        if (tracked.state === "") {
          const ref = e.actorRef as unknown as { _parent?: { sessionId: string }; logic?: unknown };
          const parent = ref._parent ? this.#actors.get(ref._parent.sessionId)?.id : undefined;
          this.emit({ t, kind: "actor", id: tracked.id, machine: machineId(ref.logic)!, parent, state });
        } else {
          // Why it ended, on the move into a final state or into `failed` (a peer's, which is not final).
          const reason = snap.status === "done" || state === "failed" ? snap.context?.reason : undefined;
          this.emit({
            t,
            kind: "transition",
            id: tracked.id,
            from: tracked.state,
            event: e.event.type,
            to: state,
            reason,
          });
        }
        tracked.state = state;
      }
    }
    if (snap.status !== "active") {
      this.#actors.delete(e.actorRef.sessionId);
      this.emit({ t: this.now(), kind: "stopped", id: tracked.id });
    }
  };

  /** Records a sample of the numbers (call it on a timer). */
  sample(sample: Sample): void {
    this.emit({ t: this.now(), kind: "sample", sample });
  }
}

/** Parses a trace file's text; a line that is not a record is an error naming the line. */
export function parseTrace(text: string): TraceRecord[] {
  const out: TraceRecord[] = [];
  text.split("\n").forEach((line, i) => {
    if (line.trim() === "") return;
    let r: TraceRecord;
    try {
      r = JSON.parse(line);
    } catch {
      throw new SyntaxError(`trace line ${i + 1} is not JSON`);
    }
    if (typeof r?.t !== "number" || typeof r.kind !== "string") {
      throw new SyntaxError(`trace line ${i + 1} is not a trace record`);
    }
    out.push(r);
  });
  return out;
}
