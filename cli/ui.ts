/**
 * The CLI's observers of a run: the live view (`--ui`), the trace file (`--trace`), Stately's WebSocket inspector
 * (`--inspect-ws`), and the `replay` and `viz` commands. Part of the CLI: it prints.
 *
 * @module
 */

import MACHINE_CHARTS from "../src/ui/machine_charts.json" with { type: "json" };
import type { InspectionEvent } from "xstate";
import type { DownloadSession } from "../actors/client.ts";
import { MACHINES } from "../actors/machines.ts";
import { serveUi, type UiServer } from "../src/ui/server.ts";
import { parseTrace, type TraceRecord, TraceRecorder } from "../src/ui/trace.ts";
import { toHex } from "../src/common/bytes.ts";
import { SwarmView } from "../src/ui/view.ts";

/** `host:port`, `:port` or `port` (host 127.0.0.1); throws TypeError for anything else. */
export function parseListenAddress(text: string): { hostname: string; port: number } {
  const m = /^(?:(\[[^\]]+\]|[A-Za-z0-9.-]+)?:)?(\d+)$/.exec(text);
  const port = m ? Number(m[2]) : -1;
  if (!m || port > 65535) throw new TypeError(`"${text}" is not host:port`);
  return { hostname: m[1]?.replace(/^\[|\]$/g, "") || "127.0.0.1", port };
}

/** True when `text` can be the optional address after `--ui`. */
export function looksLikeAddress(text: string | undefined): boolean {
  return text !== undefined && /^(?:(\[[^\]]+\]|[A-Za-z0-9.-]+)?:)?\d+$/.test(text);
}

/**
 * Every machine's chart, as `deno task viz` laid it out and drew it (ELK): the live view and replay never load the
 * layout kernel, and a test fails when the file no longer matches the machines.
 */
const charts = () => Object.values(MACHINE_CHARTS as Record<string, string>);

export interface ObserverOptions {
  ui?: string;
  trace?: string;
  inspectWs?: string;
}

/** Whatever watches a run: built before the session (its `inspect` goes to the actors), attached after. */
export class Observers {
  #recorder?: TraceRecorder;
  #view?: SwarmView;
  #server?: UiServer;
  #trace?: Deno.FsFile;
  #lines: string[] = [];
  #timers: ReturnType<typeof setInterval>[] = [];
  #ws?: { stop(): void };
  #inspectors: ((e: InspectionEvent) => void)[] = [];
  #torrentSeen = false;

  static async create(options: ObserverOptions, extra?: (e: InspectionEvent) => void): Promise<Observers> {
    const o = new Observers();
    if (extra) o.#inspectors.push(extra);
    if (options.ui !== undefined || options.trace !== undefined) {
      const sinks: ((r: TraceRecord) => void)[] = [];
      if (options.trace !== undefined) {
        try {
          o.#trace = await Deno.open(options.trace, { write: true, create: true, truncate: true });
        } catch (e) {
          throw new Error(`cannot write the trace ${options.trace}: ${(e as Error).message}`);
        }
        sinks.push((r) => o.#lines.push(JSON.stringify(r)));
        o.#timers.push(setInterval(() => o.#flush(), 250));
      }
      if (options.ui !== undefined) {
        const view = o.#view = new SwarmView();
        sinks.push((r) => view.apply(r));
        const { hostname, port } = parseListenAddress(options.ui);
        try {
          o.#server = await serveUi({ hostname, port, charts: charts(), source: { live: view } });
        } catch (e) {
          throw new Error(`cannot serve the live view on ${options.ui}: ${(e as Error).message}`);
        }
        console.error(`live view: ${o.#server.url}`);
      }
      o.#recorder = new TraceRecorder((r) => sinks.forEach((sink) => sink(r)));
      o.#inspectors.push(o.#recorder.inspect);
    }
    if (options.inspectWs !== undefined) {
      // Loaded only when asked for: it brings a WebSocket client and serializers every other run can do without.
      const { createWebSocketInspector } = await import("@statelyai/inspect");
      const ws = createWebSocketInspector({ url: options.inspectWs });
      o.#ws = ws;
      o.#inspectors.push(ws.inspect as (e: InspectionEvent) => void);
    }
    return o;
  }

  /** The `inspect` to give the session, or undefined when nothing watches. */
  get inspect(): ((e: InspectionEvent) => void) | undefined {
    const list = this.#inspectors;
    if (list.length === 0) return undefined;
    return list.length === 1 ? list[0] : (e) => list.forEach((f) => f(e));
  }

  /** Starts sampling the session's numbers for the view and the trace. */
  attach(session: DownloadSession): void {
    if (!this.#recorder) return;
    const tick = () => this.#sample(session);
    this.#timers.push(setInterval(tick, this.#view ? 500 : 1000));
    tick();
  }

  #sample(session: DownloadSession): void {
    const meta = session.meta;
    if (meta && !this.#torrentSeen) {
      this.#torrentSeen = true;
      this.#recorder!.emit({
        t: Date.now(),
        kind: "torrent",
        name: meta.name,
        infoHash: meta.infoHashHex,
        pieceCount: meta.pieceCount,
        totalBytes: meta.totalLength,
      });
    }
    this.#recorder!.sample(session.sample());
  }

  #flush(): void {
    if (!this.#trace || this.#lines.length === 0) return;
    const text = this.#lines.join("\n") + "\n";
    this.#lines = [];
    const bytes = new TextEncoder().encode(text);
    for (let at = 0; at < bytes.length;) at += this.#trace.writeSync(bytes.subarray(at));
  }

  /** A last sample, the trace flushed and closed, the final view pushed to open pages, then the server closed. */
  async close(session?: DownloadSession): Promise<void> {
    this.#timers.forEach(clearInterval);
    if (session && this.#recorder) this.#sample(session);
    this.#flush();
    this.#trace?.close();
    if (this.#server) {
      // Open pages get the final state before the server goes.
      this.#server.push();
      await new Promise((r) => setTimeout(r, 100));
      await this.#server.close();
    }
    this.#ws?.stop();
  }
}

/** `replay FILE.jsonl`: serves a recorded run in the live view's page, with a timeline, until Ctrl-C. */
export async function replay(path: string, ui = "127.0.0.1:0"): Promise<number> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    throw new Error(`cannot read ${path}: ${(e as Error).message}`);
  }
  const records = parseTrace(text);
  if (records.length === 0) throw new Error(`${path} holds no trace records`);
  const { hostname, port } = parseListenAddress(ui);
  const server = await serveUi({ hostname, port, charts: charts(), source: { records } });
  const seconds = ((records.at(-1)!.t - records[0].t) / 1000).toFixed(1);
  console.error(`replay of ${records.length} records (${seconds} s): ${server.url}  (Ctrl-C to stop)`);
  await new Promise<void>((resolve) => Deno.addSignalListener("SIGINT", resolve));
  await server.close();
  return 0;
}

/** `viz DIR`: writes each machine's diagram (Mermaid and SVG) and an index under DIR. */
export async function viz(dir: string): Promise<number> {
  await Deno.mkdir(dir, { recursive: true });
  const { machineDocs } = await import("../src/ui/docs.ts");
  const docs = await machineDocs(MACHINES);
  for (const [name, text] of docs) await Deno.writeTextFile(`${dir}/${name}`, text);
  console.error(`wrote ${[...docs.keys()].join(", ")} to ${dir}`);
  return 0;
}

/** Logs each peer and web seed actor's state changes (and why one failed or backs off) to stderr. */
export function peerLogger(): (e: InspectionEvent) => void {
  const last = new Map<string, string>();
  const t0 = Date.now();
  const seconds = () => ((Date.now() - t0) / 1000).toFixed(3);
  return (e) => {
    if (e.type === "@xstate.event" && e.event.type === "lookup.done") {
      const d = e.event as unknown as {
        id: string;
        infoHash: Uint8Array;
        queried: number;
        peers: number;
        announced?: number;
      };
      const hash = toHex(d.infoHash.subarray(0, 4));
      const announced = d.announced === undefined ? "" : `, announced to ${d.announced} of the nearest nodes`;
      const n = (k: number, word: string) => `${k} ${k === 1 ? word : word.replace(/y$/, "ie") + "s"}`;
      console.error(
        `${seconds()}s dht ${d.id} ${hash}…: ${n(d.queried, "query")}, ${n(d.peers, "peer")}${announced}`,
      );
      return;
    }
    if (e.type !== "@xstate.snapshot") return;
    const snap = e.snapshot as {
      value?: unknown;
      context?: { key?: string; reason?: string; lastError?: string; transport?: string; via?: string };
    };
    const key = snap.context?.key;
    if (!key || snap.value === undefined) return;
    const state = JSON.stringify(snap.value).replace(/[{}"]/g, "").replace(":", ".");
    const before = last.get(key);
    if (before === state) return;
    last.set(key, state);
    // The transport once, as the handshake completes: over TCP or uTP, plain, rc4 or obfuscated.
    const transport = state.startsWith("connected") && !before?.startsWith("connected") &&
      [snap.context?.via, snap.context?.transport].filter(Boolean).join(" ");
    const reason = state === "failed"
      ? snap.context?.reason
      : state === "backingOff"
      ? snap.context?.lastError
      : "";
    const what = /^https?:/.test(key) ? "web seed" : "peer";
    console.error(
      `${seconds()}s ${what} ${key} → ${state}${reason ? ` (${reason})` : ""}${
        transport ? ` [${transport}]` : ""
      }`,
    );
  };
}
