/** A local HTTP server for web-seed tests: serves files by path with `Range`, or misbehaves as asked. */

/**
 * How the server answers: `ok` serves ranges; `404`/`503`/`429` answer that status (`503`/`429` with
 * `Retry-After: 1`); `corrupt` flips a byte of every answer; `short` cuts every body short; `long` sends one byte
 * more; `ignore-range` answers 200 with the whole file; `redirect` sends every request to `/moved/…` first;
 * `redirect-loop` redirects forever.
 */
export type ServerMode =
  | "ok"
  | "404"
  | "503"
  | "429"
  | "corrupt"
  | "short"
  | "long"
  | "ignore-range"
  | "redirect"
  | "redirect-loop";

export interface WebSeedServer {
  /** `http://127.0.0.1:PORT/` */
  url: string;
  port: number;
  /** Requests answered, by status. */
  statuses: Map<number, number>;
  /** Paths asked for (after redirects). */
  paths: Set<string>;
  /** Body bytes sent. */
  bytesSent: number;
  /** Changeable while it runs. */
  mode: ServerMode;
  /** Answer this many requests (from now) in `failMode` before `mode` applies again. */
  failNext: number;
  failMode: ServerMode;
  /** When above 0, bodies go out 16 KiB at a time with this many milliseconds between chunks. */
  chunkDelayMs: number;
  close(): Promise<void>;
}

/** Serves `files` (path below the root, such as `t.bin` or `folder/a.txt`) on 127.0.0.1. */
export function startWebSeedServer(files: Map<string, Uint8Array>, mode: ServerMode = "ok"): WebSeedServer {
  const server: WebSeedServer = {
    url: "",
    port: 0,
    statuses: new Map(),
    paths: new Set(),
    bytesSent: 0,
    mode,
    failNext: 0,
    failMode: "503",
    chunkDelayMs: 0,
    close: () => http.shutdown(),
  };
  const answer = (status: number, body: BodyInit | null, headers: Record<string, string> = {}) => {
    server.statuses.set(status, (server.statuses.get(status) ?? 0) + 1);
    return new Response(body, { status, headers });
  };
  const http = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (req) => {
    const url = new URL(req.url);
    let path = decodeURIComponent(url.pathname.slice(1));
    let current = server.mode;
    if (server.failNext > 0) {
      server.failNext--;
      current = server.failMode;
    }
    if (current === "redirect-loop") return answer(302, null, { location: `/loop${url.pathname}` });
    if (current === "redirect") {
      if (!path.startsWith("moved/")) return answer(302, null, { location: `/moved${url.pathname}` });
    }
    if (path.startsWith("moved/")) path = path.slice("moved/".length);
    server.paths.add(path);
    if (current === "404") return answer(404, "not here");
    if (current === "503" || current === "429") {
      return answer(Number(current), "busy", { "retry-after": "1" });
    }
    const data = files.get(path);
    if (!data) return answer(404, "no such file");
    const m = /^bytes=(\d+)-(\d+)$/.exec(req.headers.get("range") ?? "");
    if (!m || current === "ignore-range") {
      server.bytesSent += data.length;
      return answer(200, data.slice());
    }
    const start = Number(m[1]), end = Math.min(Number(m[2]), data.length - 1);
    if (start >= data.length) return answer(416, null, { "content-range": `bytes */${data.length}` });
    let body = data.slice(start, end + 1);
    if (current === "corrupt") body[body.length >> 1] ^= 0xff;
    if (current === "short") body = body.subarray(0, body.length - 1);
    if (current === "long") {
      const longer = new Uint8Array(body.length + 1);
      longer.set(body, 1);
      body = longer;
    }
    const headers = { "content-range": `bytes ${start}-${end}/${data.length}` };
    if (server.chunkDelayMs > 0) {
      return answer(206, slowly(body, server.chunkDelayMs, (n) => void (server.bytesSent += n)), headers);
    }
    server.bytesSent += body.length;
    return answer(206, body, headers);
  });
  server.port = http.addr.port;
  server.url = `http://127.0.0.1:${server.port}/`;
  return server;
}

/** `body` as a stream of 16 KiB chunks, `delayMs` apart (a server slower than loopback); `sent` counts them. */
function slowly(body: Uint8Array, delayMs: number, sent: (n: number) => void): ReadableStream<Uint8Array> {
  let at = 0;
  return new ReadableStream({
    async pull(controller) {
      if (at > 0) await new Promise((r) => setTimeout(r, delayMs));
      const chunk = body.slice(at, at + 16 * 1024);
      controller.enqueue(chunk);
      sent(chunk.length);
      at += chunk.length;
      if (at >= body.length) controller.close();
    },
  });
}
