/**
 * The layers, read from Deno's own module graph (`deno info --json mod.ts`): `src/` (byte formats, protocols and
 * plain I/O, by concern) under `actors/` (the machines) under `cli/` (arguments, printing, exit codes), with
 * `mod.ts` on top. Arrows point down only, no module or `src/` folder takes part in an import cycle, and no file
 * under `src/`, `actors/` or `cli/` grows past 350 lines unless it is listed below with its ceiling.
 */

import assert from "node:assert/strict";

const assertEquals = <T>(actual: T, expected: T) => assert.deepEqual(actual, expected);

const ROOT = new URL("../../", import.meta.url);

/** Files already over the line budget, with the most lines they may have: the list may only shrink. */
const KNOWN_LARGE: Record<string, number> = {};
const MAX_LINES = 350;

interface Edge {
  from: string;
  to: string;
}

async function moduleGraph(): Promise<{ modules: string[]; edges: Edge[] }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", "mod.ts"],
    cwd: ROOT,
    stdout: "piped",
    stderr: "inherit",
  }).output();
  if (!out.success) throw new Error("deno info --json mod.ts failed");
  const graph = JSON.parse(new TextDecoder().decode(out.stdout)) as {
    modules: {
      specifier: string;
      dependencies?: { code?: { specifier: string }; type?: { specifier: string } }[];
    }[];
  };
  const ours = (specifier: string) =>
    specifier.startsWith(ROOT.href) ? specifier.slice(ROOT.href.length) : undefined;
  const modules: string[] = [];
  const edges: Edge[] = [];
  for (const m of graph.modules) {
    const from = ours(m.specifier);
    if (from === undefined) continue;
    modules.push(from);
    for (const dep of m.dependencies ?? []) {
      for (const target of [dep.code?.specifier, dep.type?.specifier]) {
        const to = target && ours(target);
        if (to && !edges.some((e) => e.from === from && e.to === to)) edges.push({ from, to });
      }
    }
  }
  return { modules, edges };
}

/** The layer a module belongs to: higher layers may import lower ones, never the reverse. */
export function layerOf(path: string): number {
  if (path.startsWith("src/")) return 0;
  if (path.startsWith("actors/")) return 1;
  if (path.startsWith("cli/")) return 2;
  if (path === "mod.ts") return 3;
  return -1;
}

/** The folder a module counts in for folder cycles: `src/<concern>/`, or the top folder. */
export function folderOf(path: string): string {
  const parts = path.split("/");
  return parts[0] === "src" && parts.length > 2 ? `src/${parts[1]}` : parts.length > 1 ? parts[0] : path;
}

/** Every cycle's members, one list per strongly connected component of more than one node (Tarjan). */
export function cycles(edges: Edge[]): string[][] {
  const next = new Map<string, string[]>();
  for (const { from, to } of edges) {
    if (from === to) continue;
    next.set(from, [...(next.get(from) ?? []), to]);
    if (!next.has(to)) next.set(to, []);
  }
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (v: string) => {
    index.set(v, index.size);
    low.set(v, index.get(v)!);
    stack.push(v);
    onStack.add(v);
    for (const w of next.get(v)!) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1) found.push(component.sort());
    }
  };
  for (const v of next.keys()) if (!index.has(v)) visit(v);
  return found;
}

const graph = await moduleGraph();

Deno.test("layers: every module under src/, actors/ and cli/ is reached from mod.ts", async () => {
  const files: string[] = [];
  const walk = async (dir: string) => {
    for await (const e of Deno.readDir(new URL(dir, ROOT))) {
      if (e.isDirectory) await walk(`${dir}${e.name}/`);
      else if (e.name.endsWith(".ts")) files.push(dir + e.name);
    }
  };
  for (const top of ["src/", "actors/", "cli/"]) await walk(top);
  assertEquals(files.filter((f) => !graph.modules.includes(f)), []);
  assertEquals(graph.modules.filter((m) => layerOf(m) < 0), []);
});

Deno.test("layers: no import points up (src/ never imports actors/ or cli/, actors/ never imports cli/)", () => {
  const upward = graph.edges.filter((e) => layerOf(e.to) > layerOf(e.from)).map((e) =>
    `${e.from} -> ${e.to}`
  );
  assertEquals(upward, []);
});

Deno.test("layers: no import cycle among the project's modules", () => {
  assertEquals(cycles(graph.edges), []);
});

Deno.test("layers: no import cycle among src/'s folders (a folder whose arrows point both ways holds two layers)", () => {
  const folders = graph.edges.map((e) => ({ from: folderOf(e.from), to: folderOf(e.to) }));
  assertEquals(cycles(folders.filter((e) => e.from !== e.to)), []);
});

Deno.test("layers: cycles() finds a cycle of modules and of folders", () => {
  const edges = [
    { from: "src/a/x.ts", to: "src/b/y.ts" },
    { from: "src/b/y.ts", to: "src/c/z.ts" },
    { from: "src/c/z.ts", to: "src/a/x.ts" },
    { from: "actors/p.ts", to: "src/a/x.ts" },
  ];
  assertEquals(cycles(edges), [["src/a/x.ts", "src/b/y.ts", "src/c/z.ts"]]);
  assertEquals(cycles(edges.slice(0, 2)), []);
  assertEquals(folderOf("src/tracker/http.ts"), "src/tracker");
  assertEquals(folderOf("actors/peer.ts"), "actors");
});

Deno.test(`layers: no file under src/, actors/ or cli/ passes ${MAX_LINES} lines unless listed, and none grows`, async () => {
  const over: string[] = [];
  for (const m of graph.modules) {
    if (m === "mod.ts") continue;
    const lines = (await Deno.readTextFile(new URL(m, ROOT))).split("\n").length - 1;
    const ceiling = KNOWN_LARGE[m] ?? MAX_LINES;
    if (lines > ceiling) over.push(`${m}: ${lines} lines (at most ${ceiling})`);
  }
  assertEquals(over, []);
});
