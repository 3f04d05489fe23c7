/**
 * The live view's HTTP server, on 127.0.0.1 unless told otherwise: the page, the view pushed four times a second
 * over server-sent events (batched: the download's actors never wait on a browser), and for replay the view at
 * any time of a recorded run. Requests naming another host than the one we listen on are refused, so a web page
 * elsewhere cannot reach the view through DNS rebinding.
 *
 * @module
 */

import { pageHtml } from "./page.ts";
import type { TraceRecord } from "./trace.ts";
import { actorAt, type SwarmView, viewAt } from "./view.ts";

export interface UiServerOptions {
  hostname: string;
  port: number;
  /** The machines' state charts as SVG. */
  charts: string[];
  /** A live run's view, or a recorded run's records. */
  source: { live: SwarmView } | { records: TraceRecord[] };
  /** How often the live view is pushed (default 250 ms). */
  pushMs?: number;
}

export interface UiServer {
  url: string;
  /** Pushes the live view to every open page now (the last state, before closing). */
  push(): void;
  close(): Promise<void>;
}

/** Starts the server; rejects when the address cannot be had. */
export function serveUi(options: UiServerOptions): Promise<UiServer> {
  const mode = "live" in options.source ? "live" : "replay";
  const page = pageHtml(options.charts, mode);
  const streams = new Set<ReadableStreamDefaultController<Uint8Array>>();
  const encoder = new TextEncoder();
  let timer: ReturnType<typeof setInterval> | undefined;
  const source = options.source;
  const push = () => {
    if (streams.size === 0 || !("live" in source)) return;
    const chunk = encoder.encode(`data: ${JSON.stringify(source.live.snapshot())}\n\n`);
    for (const s of streams) {
      try {
        s.enqueue(chunk);
      } catch {
        streams.delete(s);
      }
    }
  };
  if ("live" in source) timer = setInterval(push, options.pushMs ?? 250);
  const records = "records" in source ? source.records : [];

  return new Promise((resolve, reject) => {
    let server: Deno.HttpServer<Deno.NetAddr>;
    try {
      server = Deno.serve({
        hostname: options.hostname,
        port: options.port,
        onListen: ({ port }) => {
          const host = options.hostname.includes(":") ? `[${options.hostname}]` : options.hostname;
          resolve({
            url: `http://${host}:${port}/`,
            push,
            close: async () => {
              clearInterval(timer);
              for (const s of streams) {
                try {
                  s.close();
                } catch { /* closed */ }
              }
              streams.clear();
              await server.shutdown();
            },
          });
        },
      }, (req) => {
        const url = new URL(req.url);
        const host = (req.headers.get("host") ?? "").replace(/:\d+$/, "").replace(/^\[|\]$/g, "");
        const allowed = [options.hostname, "localhost", "127.0.0.1", "::1"];
        if (options.hostname !== "0.0.0.0" && options.hostname !== "::" && !allowed.includes(host)) {
          return new Response("unknown host", { status: 403 });
        }
        switch (url.pathname) {
          case "/":
            return new Response(page, { headers: { "content-type": "text/html; charset=utf-8" } });
          case "/events": {
            if (!("live" in source)) return new Response("not live", { status: 404 });
            let ctl: ReadableStreamDefaultController<Uint8Array>;
            const body = new ReadableStream<Uint8Array>({
              start(c) {
                ctl = c;
                streams.add(c);
                c.enqueue(encoder.encode(`data: ${JSON.stringify(source.live.snapshot())}\n\n`));
              },
              cancel() {
                streams.delete(ctl);
              },
            });
            return new Response(body, {
              headers: { "content-type": "text/event-stream", "cache-control": "no-store" },
            });
          }
          case "/api/view": {
            if ("live" in source) return Response.json(source.live.snapshot());
            const t = Number(url.searchParams.get("t") ?? records.at(-1)?.t ?? 0);
            return Response.json(viewAt(records, t));
          }
          case "/api/actor": {
            // One actor up close: its state and latest transitions (live, or at replay's time `t`).
            const id = url.searchParams.get("id") ?? "";
            const t = Number(url.searchParams.get("t") ?? records.at(-1)?.t ?? 0);
            const focus = "live" in source ? source.live.focus(id) : actorAt(records, t, id);
            return focus ? Response.json(focus) : new Response("no such actor", { status: 404 });
          }
          case "/api/range":
            return Response.json({ t0: records[0]?.t ?? 0, t1: records.at(-1)?.t ?? 0 });
          default:
            return new Response("not found", { status: 404 });
        }
      });
    } catch (e) {
      clearInterval(timer);
      reject(e);
    }
  });
}
