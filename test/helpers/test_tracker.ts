/** An in-process HTTP tracker on 127.0.0.1 for tests: hands out a fixed peer list and records announces. */

import bencode from "bencode";
import { encodeCompactPeers } from "../../src/common/peer_address.ts";

export interface TestTracker {
  url: string;
  announces: URLSearchParams[];
  /** Raw query strings, to check percent-encoding byte for byte. */
  queries: string[];
  close(): Promise<void>;
}

/** Faults the tracker answers its first announces with, one per announce, before it answers properly. */
export type TrackerFault = "http-503" | "not-bencode" | "failure-reason" | "hang" | "redirect";

export function startTracker(
  peers: { host: string; port: number }[],
  interval = 1800,
  faults: TrackerFault[] = [],
): TestTracker {
  const pending = [...faults];
  const hanging: (() => void)[] = [];
  const announces: URLSearchParams[] = [];
  const queries: string[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    const url = new URL(req.url);
    if (url.pathname === "/announce") {
      const fault = pending.shift();
      if (fault === "http-503") return new Response("busy", { status: 503 });
      if (fault === "not-bencode") return new Response("<html>Bad Gateway</html>");
      if (fault === "failure-reason") return new Response(bencode.encode({ "failure reason": "try later" }));
      if (fault === "hang") {
        return new Promise<Response>((resolve) => hanging.push(() => resolve(new Response(""))));
      }
      if (fault === "redirect") return Response.redirect(new URL(`/moved${url.search}`, url), 307);
    }
    queries.push(url.search.slice(1));
    announces.push(url.searchParams);
    return new Response(bencode.encode({ interval, peers: encodeCompactPeers(peers, false) }));
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}/announce`,
    announces,
    queries,
    close: () => {
      hanging.forEach((release) => release());
      return server.shutdown();
    },
  };
}
