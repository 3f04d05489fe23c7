/**
 * One HTTP range request of a web seed, through `fetch`: the answer's bytes go straight into the run's buffers,
 * and every way a server can fail is sorted into what the web seed does next. A body longer or shorter than
 * asked is an error and nothing of it counts; redirects are followed, at most `maxRedirects` of them.
 *
 * @module
 */

import type { RangeRequest } from "./plan.ts";

/**
 * Why a request failed: `gone` (404 and the like: drop this web seed), `busy` (503, 429, a 5xx or the network:
 * back off, for `retryAfterMs` when the server said so), `broken` (an answer we cannot use: wrong length,
 * ignored `Range`, too many redirects).
 */
export type WebSeedFailure = "gone" | "busy" | "broken";

/** A failed request, with what to do about it. */
export class WebSeedError extends Error {
  constructor(message: string, readonly kind: WebSeedFailure, readonly retryAfterMs?: number) {
    super(message);
  }
}

/** How a request is made. */
export interface FetchOptions {
  /** Redirects followed before giving up (default 5). */
  maxRedirects?: number;
  /** Time without a byte of the answer before giving up (default 30 s). */
  idleTimeoutMs?: number;
  /** Stops the request (the web seed was stopped). */
  signal?: AbortSignal;
  /** Sent as `User-Agent`. */
  userAgent?: string;
}

/** `Retry-After` in milliseconds: seconds, or an HTTP date; undefined when absent or unreadable. */
export function retryAfterMs(value: string | null, now = Date.now()): number | undefined {
  if (value === null) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const at = Date.parse(text);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** The error an HTTP status means, or undefined for the ones that carry data. */
function statusError(res: Response, url: string): WebSeedError | undefined {
  const s = res.status;
  if (s === 206 || s === 200) return undefined;
  const what = `${url} answered ${s}${res.statusText ? " " + res.statusText : ""}`;
  if (s === 429 || s === 503) {
    return new WebSeedError(what, "busy", retryAfterMs(res.headers.get("retry-after")));
  }
  if (s >= 500) return new WebSeedError(what, "busy");
  if (s === 416) return new WebSeedError(`${what}: the file is shorter than the torrent says`, "gone");
  return new WebSeedError(what, "gone");
}

/** Bytes read from a body at a time. */
const SCRATCH_BYTES = 64 * 1024;

/** Reads `res`'s body into `write`, which must receive exactly `length` bytes. */
async function readExactly(
  res: Response,
  length: number,
  url: string,
  write: (at: number, bytes: Uint8Array) => void,
  touch: () => void,
): Promise<void> {
  if (!res.body) throw new WebSeedError(`${url} answered without a body`, "broken");
  const reader = res.body.getReader({ mode: "byob" });
  // One scratch buffer per request, handed back and forth with the stream (each read transfers it): a default
  // reader makes a fresh buffer for every chunk, which piled up as 40-60 MiB of garbage outside V8's heap.
  let scratch = new ArrayBuffer(SCRATCH_BYTES);
  let got = 0;
  try {
    while (true) {
      const { done, value } = await reader.read(new Uint8Array(scratch));
      if (done || !value) break;
      scratch = value.buffer as ArrayBuffer;
      touch();
      if (got + value.length > length) {
        throw new WebSeedError(`${url} sent more than the ${length} bytes asked`, "broken");
      }
      write(got, value);
      got += value.length;
    }
  } finally {
    reader.releaseLock();
    await res.body.cancel().catch(() => {});
  }
  if (got < length) throw new WebSeedError(`${url} sent ${got} of the ${length} bytes asked`, "broken");
}

/** Fetches `req` and writes its bytes with `write(offsetInRequest, bytes)`; throws a `WebSeedError`. */
export async function fetchRange(
  req: RangeRequest,
  write: (at: number, bytes: Uint8Array) => void,
  opts: FetchOptions = {},
): Promise<void> {
  const idleMs = opts.idleTimeoutMs ?? 30_000;
  const abort = new AbortController();
  const onStop = () => abort.abort();
  opts.signal?.addEventListener("abort", onStop, { once: true });
  let timer: ReturnType<typeof setTimeout> | undefined;
  const touch = () => {
    clearTimeout(timer);
    timer = setTimeout(() => abort.abort(), idleMs);
  };
  touch();
  let url = req.url;
  try {
    for (let hops = 0;; hops++) {
      const headers: Record<string, string> = { range: `bytes=${req.start}-${req.start + req.length - 1}` };
      if (opts.userAgent) headers["user-agent"] = opts.userAgent;
      const res = await fetch(url, { headers, redirect: "manual", signal: abort.signal });
      touch();
      const location = res.headers.get("location");
      if (res.status >= 300 && res.status < 400 && location) {
        await res.body?.cancel().catch(() => {});
        if (hops >= (opts.maxRedirects ?? 5)) {
          throw new WebSeedError(`${req.url}: more than ${opts.maxRedirects ?? 5} redirects`, "broken");
        }
        url = new URL(location, url).href;
        if (!/^https?:/i.test(url)) throw new WebSeedError(`${req.url} redirects to ${url}`, "gone");
        continue;
      }
      const error = statusError(res, url);
      if (error) {
        await res.body?.cancel().catch(() => {});
        throw error;
      }
      if (res.status === 200 && !(req.start === 0 && req.length === req.fileLength)) {
        await res.body?.cancel().catch(() => {});
        throw new WebSeedError(
          `${url} ignored the Range header (answered 200 to a part of the file)`,
          "broken",
        );
      }
      const range = /^bytes (\d+)-(\d+)\//.exec(res.headers.get("content-range") ?? "");
      if (
        res.status === 206 && range &&
        (Number(range[1]) !== req.start || Number(range[2]) !== req.start + req.length - 1)
      ) {
        await res.body?.cancel().catch(() => {});
        throw new WebSeedError(
          `${url} sent bytes ${range[1]}-${range[2]}, not the ${req.start}-${
            req.start + req.length - 1
          } asked`,
          "broken",
        );
      }
      return await readExactly(res, req.length, url, write, touch);
    }
  } catch (e) {
    if (e instanceof WebSeedError) throw e;
    if (opts.signal?.aborted) throw new WebSeedError(`${req.url}: stopped`, "busy");
    if (abort.signal.aborted) throw new WebSeedError(`${url}: no data for ${idleMs / 1000} s`, "busy");
    throw new WebSeedError(`${url}: ${(e as Error).message.split("\n")[0]}`, "busy");
  } finally {
    clearTimeout(timer);
    opts.signal?.removeEventListener("abort", onStop);
  }
}
