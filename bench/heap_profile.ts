/**
 * Where a download allocates: attaches to a Deno process started with `--inspect-wait=127.0.0.1:PORT`, lets it
 * run under V8's sampling heap profiler for some seconds, and prints the allocation sites by bytes, each charged
 * to the nearest frame of this repository's code (so XState's garbage is charged to the action that sent the
 * event). `--promoted` counts only objects that outlived a young-generation collection: what makes the heap grow.
 * `--leaf` names the frame that allocated as well (`ours <- leaf`), for garbage made inside a library or Deno.
 *
 *   deno run -A --inspect-wait=127.0.0.1:9339 mod.ts <torrent> <out> -q &
 *   deno run -A bench/heap_profile.ts --port 9339 --seconds 6 [--promoted]
 */

import { parseArgs } from "node:util";

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}

interface ProfileNode {
  callFrame: CallFrame;
  selfSize: number;
  children: ProfileNode[];
}

const ROOT = new URL("..", import.meta.url).href;

function frameName(f: CallFrame): string {
  const where = f.url.startsWith(ROOT) ? f.url.slice(ROOT.length) : f.url.split("/").slice(-2).join("/");
  return `${f.functionName || "(anonymous)"} ${where}:${f.lineNumber + 1}`;
}

/** Bytes per site: each sample is charged to the nearest enclosing frame from this repository. */
export function bySite(root: ProfileNode, leaf = false): Map<string, number> {
  const sites = new Map<string, number>();
  const walk = (node: ProfileNode, owner: string) => {
    const url = node.callFrame.url;
    const here = url.startsWith(ROOT) && !url.includes("node_modules") ? frameName(node.callFrame) : owner;
    const site = leaf && here !== frameName(node.callFrame)
      ? `${here} <- ${frameName(node.callFrame)}`
      : here;
    if (node.selfSize > 0) sites.set(site, (sites.get(site) ?? 0) + node.selfSize);
    for (const child of node.children) walk(child, here);
  };
  walk(root, "(runtime)");
  return sites;
}

if (import.meta.main) {
  const { values } = parseArgs({
    options: {
      port: { type: "string", default: "9339" },
      seconds: { type: "string", default: "6" },
      promoted: { type: "boolean", default: false },
      leaf: { type: "boolean", default: false },
      top: { type: "string", default: "25" },
    },
  });
  const targets = await (await fetch(`http://127.0.0.1:${values.port}/json/list`)).json();
  const ws = new WebSocket(targets[0].webSocketDebuggerUrl);
  await new Promise((resolve, reject) => {
    ws.onopen = resolve;
    ws.onerror = reject;
  });
  let id = 0;
  const waiting = new Map<number, (result: unknown) => void>();
  ws.onmessage = (m) => {
    const msg = JSON.parse(m.data);
    waiting.get(msg.id)?.(msg.result);
    waiting.delete(msg.id);
  };
  const call = (method: string, params: Record<string, unknown> = {}) =>
    new Promise<unknown>((resolve) => {
      waiting.set(++id, resolve);
      ws.send(JSON.stringify({ id, method, params }));
    });
  await call("HeapProfiler.enable");
  await call("HeapProfiler.startSampling", {
    samplingInterval: 8192,
    includeObjectsCollectedByMajorGC: true,
    includeObjectsCollectedByMinorGC: !values.promoted,
  });
  await call("Runtime.runIfWaitingForDebugger");
  const seconds = Number(values.seconds);
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const { profile } = await call("HeapProfiler.stopSampling") as { profile: { head: ProfileNode } };
  ws.close();
  const sites = [...bySite(profile.head, values.leaf)].sort((a, b) => b[1] - a[1]);
  const total = sites.reduce((n, [, v]) => n + v, 0);
  const kind = values.promoted ? "promoted out of the young generation" : "allocated";
  console.log(`${(total / 1e6).toFixed(1)} MB ${kind} in ${seconds} s (sampled), by nearest frame of ours:`);
  for (const [site, bytes] of sites.slice(0, Number(values.top))) {
    console.log(`${(bytes / 1e6).toFixed(2).padStart(9)} MB  ${site}`);
  }
}
