/**
 * State charts drawn from the machine definitions themselves: a walk of an XState machine's state nodes gives a
 * graph (states, nesting, transitions with their events and guards), rendered as Mermaid for the docs and as SVG
 * for the live view. Nothing is drawn by hand, so the pictures cannot drift from the code.
 *
 * @module
 */

interface TransitionLike {
  target?: StateNodeLike[];
  /** A named guard (a string, or an object with its type); inline guard functions have no name. */
  guard?: string | { type?: string } | ((...args: never[]) => unknown);
}

/** The parts of an XState v5 state node this walk reads. */
interface StateNodeLike {
  key: string;
  path: string[];
  type: "atomic" | "compound" | "parallel" | "final" | "history";
  states: Record<string, StateNodeLike>;
  initial?: { target?: StateNodeLike[] };
  transitions: Map<string, TransitionLike[]>;
  always?: TransitionLike[];
}

export interface ChartNode {
  /** Path below the root joined with dots (`connected.choked`); the root is "". */
  id: string;
  label: string;
  type: StateNodeLike["type"];
  children: ChartNode[];
  /** The child entered first, for a compound state. */
  initial?: string;
}

export interface ChartEdge {
  from: string;
  to: string;
  label: string;
}

export interface Chart {
  name: string;
  root: ChartNode;
  edges: ChartEdge[];
}

/** A readable name for a transition's event: timers and actor completions get short forms. */
export function eventLabel(event: string): string {
  if (event === "") return "always";
  const after = /^xstate\.after\.([^.]+)\./.exec(event);
  if (after) return `after ${after[1]}`;
  const done = /^xstate\.(done|error)\.actor\.(.+)$/.exec(event);
  // An invocation without an id gets its state's path as id: then "done" alone says it.
  if (done) return done[2].includes(".") ? done[1] : `${done[2]} ${done[1]}`;
  return event;
}

/** Walks a machine (anything with a `root` state node, as `setup().createMachine()` returns) into a chart. */
export function chartOf(name: string, machine: { root: unknown }): Chart {
  const edges: ChartEdge[] = [];
  const idOf = (n: StateNodeLike) => n.path.join(".");
  const visit = (n: StateNodeLike): ChartNode => {
    const add = (event: string, ts: TransitionLike[]) => {
      for (const t of ts) {
        const name = typeof t.guard === "string"
          ? t.guard
          : typeof t.guard === "object"
          ? t.guard.type
          : undefined;
        for (const target of t.target ?? []) {
          const guard = name && !name.startsWith("xstate.") ? ` [${name}]` : t.guard ? " [guarded]" : "";
          const label = eventLabel(event) + guard;
          const from = idOf(n), to = idOf(target);
          if (!edges.some((e) => e.from === from && e.to === to && e.label === label)) {
            edges.push({ from, to, label });
          }
        }
      }
    };
    for (const [event, ts] of n.transitions) add(event, ts);
    add("", n.always ?? []);
    const children = Object.values(n.states).map(visit);
    const initial = n.initial?.target?.[0];
    return {
      id: idOf(n),
      label: n.key,
      type: n.type,
      children,
      initial: initial ? idOf(initial) : undefined,
    };
  };
  return { name, root: visit(machine.root as StateNodeLike), edges };
}

const mermaidId = (id: string) => id.replace(/[^A-Za-z0-9]/g, "_");

/** The chart as a Mermaid `stateDiagram-v2`. */
export function toMermaid(chart: Chart): string {
  const lines = ["stateDiagram-v2"];
  const declare = (n: ChartNode, indent: string) => {
    for (const c of n.children) {
      if (c.children.length > 0) {
        lines.push(`${indent}state "${c.label}" as ${mermaidId(c.id)} {`);
        declare(c, indent + "  ");
        lines.push(`${indent}}`);
      } else {
        lines.push(`${indent}state "${c.label}" as ${mermaidId(c.id)}`);
      }
    }
    if (n.initial) lines.push(`${indent}[*] --> ${mermaidId(n.initial)}`);
    for (const c of n.children) if (c.type === "final") lines.push(`${indent}${mermaidId(c.id)} --> [*]`);
  };
  declare(chart.root, "  ");
  for (const e of chart.edges) {
    if (e.from === "" || e.to === "") continue; // transitions of the machine itself reach into its states
    lines.push(`  ${mermaidId(e.from)} --> ${mermaidId(e.to)}: ${e.label.replace(/:/g, " ")}`);
  }
  for (const e of chart.edges.filter((e) => e.from === "")) {
    for (const c of chart.root.children) {
      if (c.type !== "final" && c.id !== e.to) {
        lines.push(`  ${mermaidId(c.id)} --> ${mermaidId(e.to)}: ${e.label}`);
      }
    }
  }
  return lines.join("\n") + "\n";
}

interface Box {
  node: ChartNode;
  x: number;
  y: number;
  w: number;
  h: number;
}

const CHAR = 7, PAD = 16, ATOM_H = 30, GAP_X = 130, GAP_Y = 70, TITLE = 20, COLUMNS = 3;

/** Orders siblings by a breadth-first walk from the initial state along transitions between them. */
function order(n: ChartNode, edges: ChartEdge[]): ChartNode[] {
  const ids = n.children.map((c) => c.id);
  const top = (id: string) => ids.find((s) => id === s || id.startsWith(s + ".")) ?? "";
  const seen: string[] = n.initial ? [n.initial] : [];
  for (let i = 0; i < seen.length; i++) {
    for (const e of edges) {
      const from = top(e.from), to = top(e.to);
      if (from === seen[i] && to && !seen.includes(to)) seen.push(to);
    }
  }
  for (const id of ids) if (!seen.includes(id)) seen.push(id);
  return seen.map((id) => n.children.find((c) => c.id === id)!);
}

function layout(n: ChartNode, edges: ChartEdge[], x: number, y: number, boxes: Box[]): Box {
  if (n.children.length === 0) {
    const box = { node: n, x, y, w: Math.max(90, n.label.length * CHAR + 2 * PAD), h: ATOM_H };
    boxes.push(box);
    return box;
  }
  const kids = order(n, edges);
  const inner: Box[] = [];
  let rowY = y + TITLE + PAD, rowH = 0, cx = x + PAD, width = 0;
  kids.forEach((k, i) => {
    if (i > 0 && i % COLUMNS === 0) {
      rowY += rowH + GAP_Y;
      rowH = 0;
      cx = x + PAD;
    }
    const b = layout(k, edges, cx, rowY, boxes);
    inner.push(b);
    cx += b.w + GAP_X;
    rowH = Math.max(rowH, b.h);
    width = Math.max(width, cx - GAP_X - x + PAD);
  });
  const box = {
    node: n,
    x,
    y,
    w: Math.max(width, n.label.length * CHAR + 2 * PAD),
    h: rowY + rowH + PAD - y,
  };
  boxes.push(box);
  return box;
}

const escape = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

/** The point where the line from a box's centre towards (tx, ty) leaves the box. */
function border(b: Box, tx: number, ty: number): [number, number] {
  const cx = b.x + b.w / 2, cy = b.y + b.h / 2;
  const dx = tx - cx, dy = ty - cy;
  if (dx === 0 && dy === 0) return [cx, cy];
  const s = Math.min(
    dx === 0 ? Infinity : (b.w / 2) / Math.abs(dx),
    dy === 0 ? Infinity : (b.h / 2) / Math.abs(dy),
  );
  return [cx + dx * s, cy + dy * s];
}

/**
 * The chart as SVG: nested boxes for states (each `<g class="state" data-state="path">`, so a page can highlight
 * the states actors are in), arrows labelled with events. Self-contained: no fonts or scripts from elsewhere.
 */
export function toSvg(chart: Chart): string {
  const boxes: Box[] = [];
  const root = layout(chart.root, chart.edges, 0, 0, boxes);
  const byId = new Map(boxes.map((b) => [b.node.id, b]));
  const parts: string[] = [];
  for (const b of [...boxes].sort((a, b) => a.node.id.split(".").length - b.node.id.split(".").length)) {
    if (b.node.id === "") continue;
    const cls = b.node.children.length > 0 ? "compound" : b.node.type === "final" ? "final" : "atomic";
    const label = b.node.children.length > 0
      ? `<text x="${b.x + 8}" y="${b.y + 15}" class="title">${escape(b.node.label)}</text>`
      : `<text x="${b.x + b.w / 2}" y="${b.y + b.h / 2 + 4}" text-anchor="middle">${
        escape(b.node.label)
      }</text>`;
    parts.push(
      `<g class="state ${cls}" data-state="${b.node.id}"><rect x="${b.x}" y="${b.y}" width="${b.w}" ` +
        `height="${b.h}" rx="8"/>${label}<text class="count" x="${b.x + b.w - 6}" y="${b.y + 12}" ` +
        `text-anchor="end"></text></g>`,
    );
  }
  // One arrow per pair of states, its events joined; each arrow bends to its left, so A→B and B→A stay apart.
  const pairs = new Map<string, ChartEdge[]>();
  for (const e of chart.edges) {
    if (e.from === "" || e.from === e.to) continue;
    const k = `${e.from}→${e.to}`;
    pairs.set(k, [...pairs.get(k) ?? [], e]);
  }
  for (const group of pairs.values()) {
    const a = byId.get(group[0].from), b = byId.get(group[0].to);
    if (!a || !b) continue;
    const label = group.map((e) => e.label).join(", ");
    const [x1, y1] = border(a, b.x + b.w / 2, b.y + b.h / 2);
    const [x2, y2] = border(b, a.x + a.w / 2, a.y + a.h / 2);
    const len = Math.hypot(x2 - x1, y2 - y1) || 1;
    const bend = 16;
    const qx = (x1 + x2) / 2 + ((y2 - y1) / len) * bend, qy = (y1 + y2) / 2 - ((x2 - x1) / len) * bend;
    const lx = (x1 + 2 * qx + x2) / 4, ly = (y1 + 2 * qy + y2) / 4;
    const short = label.length > 38 ? label.slice(0, 36) + "…" : label;
    const f = (n: number) => n.toFixed(1);
    parts.push(
      `<g class="edge"><path d="M ${f(x1)} ${f(y1)} Q ${f(qx)} ${f(qy)} ${f(x2)} ${f(y2)}" ` +
        `marker-end="url(#arrow)"/><title>${escape(group[0].from)} → ${escape(group[0].to)}: ${
          escape(label)
        }` +
        `</title><text x="${f(lx)}" y="${f(ly - 3)}" text-anchor="middle">${escape(short)}</text></g>`,
    );
  }
  const global = chart.edges.filter((e) => e.from === "").map((e) => `${e.label} → ${e.to}`);
  const footer = global.length > 0
    ? `<text class="note" x="4" y="${root.h + 16}">from any state: ${escape(global.join(", "))}</text>`
    : "";
  const height = root.h + (global.length > 0 ? 24 : 4);
  return `<svg xmlns="http://www.w3.org/2000/svg" class="chart" data-machine="${chart.name}" viewBox="-4 -4 ${
    root.w + 8
  } ${height + 4}" width="${root.w + 8}" height="${height + 4}">` +
    `<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" ` +
    `orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z"/></marker></defs>` +
    `<style>.state rect{fill:#f6f8fa;stroke:#57606a}.state.compound>rect{fill:none;stroke-dasharray:4 3}` +
    `.state.final rect{stroke-width:3}.state.active>rect{fill:#dafbe1;stroke:#1a7f37;stroke-width:2}` +
    `.state.compound.active>rect{fill:none}text{font:12px sans-serif;fill:#24292f}.title{font-weight:bold}` +
    `.count{font-size:11px;fill:#1a7f37;font-weight:bold}.edge path{stroke:#8c959f;fill:none}.edge text{font-size:10px;` +
    `fill:#57606a}.note{font-size:11px;fill:#57606a}marker path{fill:#8c959f}</style>` +
    parts.join("") + footer + `</svg>\n`;
}
