/**
 * Where a state chart's boxes and arrows go, laid out by ELK (the Eclipse Layout Kernel, `elkjs`, as Stately's
 * own visualiser does): layered top to bottom, compound states as containers with their children inside,
 * orthogonal edges, and edge labels placed by the layout so that none sits on a node or on another label. Arrows
 * between the same two states are one arrow, its events one per line. Positions come out absolute.
 *
 * @module
 */

import ELK from "elkjs";
import type { Chart, ChartEdge, ChartNode } from "./charts.ts";

/** A rectangle, absolute. */
export interface Rect {
  x: number;
  y: number;
  w: number;
  h: number;
}

/** A state's box. */
export interface PlacedState extends Rect {
  node: ChartNode;
}

/** An arrow: its path (absolute points) and its label's lines and box. */
export interface PlacedEdge {
  from: string;
  to: string;
  lines: string[];
  points: [number, number][];
  label?: Rect;
}

/** A chart laid out. */
export interface ChartLayout {
  chart: Chart;
  width: number;
  height: number;
  states: PlacedState[];
  edges: PlacedEdge[];
}

/** Text sizes the layout reserves (generous for 12 px and 10 px sans-serif). */
export const STATE_CHAR = 7.2, LABEL_CHAR = 6.2, LABEL_LINE = 13, TITLE_H = 24;
const ATOM_H = 32;

interface ElkNode {
  id: string;
  width?: number;
  height?: number;
  x?: number;
  y?: number;
  children?: ElkNode[];
  layoutOptions?: Record<string, string>;
}

interface ElkEdge {
  id: string;
  sources: string[];
  targets: string[];
  labels?: { text: string; width: number; height: number; x?: number; y?: number }[];
  sections?: { startPoint: Point; endPoint: Point; bendPoints?: Point[] }[];
  container?: string;
}

interface Point {
  x: number;
  y: number;
}

const OPTIONS: Record<string, string> = {
  "elk.algorithm": "layered",
  "elk.direction": "DOWN",
  "elk.edgeRouting": "ORTHOGONAL",
  "elk.hierarchyHandling": "INCLUDE_CHILDREN",
  "elk.layered.spacing.nodeNodeBetweenLayers": "36",
  "elk.spacing.nodeNode": "28",
  "elk.spacing.edgeNode": "14",
  "elk.spacing.edgeEdge": "10",
  "elk.spacing.edgeLabel": "4",
  "elk.layered.spacing.edgeNodeBetweenLayers": "14",
  "elk.layered.spacing.edgeEdgeBetweenLayers": "10",
  "elk.edgeLabels.inline": "false",
  "elk.padding": "[top=8,left=8,bottom=8,right=8]",
};

// elkjs is CommonJS: its default export is the class, whatever its type declarations say.
const Elk = ELK as unknown as new () => { layout(graph: unknown): Promise<unknown> };
const elk = new Elk();

/** The id ELK knows a state by (the root's is its own). */
const elkId = (id: string) => `s:${id}`;

/** Arrows between the same two states, as one; self-transitions and the machine's own transitions left out. */
export function arrowsOf(chart: Chart): { from: string; to: string; lines: string[] }[] {
  const pairs = new Map<string, ChartEdge[]>();
  for (const e of chart.edges) {
    if (e.from === "" || e.to === "" || e.from === e.to) continue;
    const k = `${e.from}→${e.to}`;
    pairs.set(k, [...pairs.get(k) ?? [], e]);
  }
  return [...pairs.values()].map((g) => ({ from: g[0].from, to: g[0].to, lines: g.map((e) => e.label) }));
}

/** Lays the chart out. */
export async function layoutChart(chart: Chart): Promise<ChartLayout> {
  const toElk = (n: ChartNode): ElkNode => {
    if (n.children.length === 0) {
      return { id: elkId(n.id), width: Math.max(84, n.label.length * STATE_CHAR + 28), height: ATOM_H };
    }
    return {
      id: elkId(n.id),
      children: n.children.map(toElk),
      layoutOptions: {
        "elk.padding": `[top=${TITLE_H + 10},left=14,bottom=14,right=14]`,
        "elk.nodeSize.constraints": "MINIMUM_SIZE",
        "elk.nodeSize.minimum": `(${n.label.length * STATE_CHAR + 40}, 60)`,
      },
    };
  };
  const arrows = arrowsOf(chart);
  const graph = {
    id: elkId(""),
    layoutOptions: OPTIONS,
    children: chart.root.children.map(toElk),
    edges: arrows.map((a, i): ElkEdge => ({
      id: `e${i}`,
      sources: [elkId(a.from)],
      targets: [elkId(a.to)],
      labels: [{
        text: a.lines.join("\n"),
        width: Math.max(...a.lines.map((l) => l.length)) * LABEL_CHAR + 8,
        height: a.lines.length * LABEL_LINE + 4,
      }],
    })),
  };
  const out = await elk.layout(graph) as ElkNode & { edges: ElkEdge[] };
  // Positions are relative to the parent node (a node's) or to the container (an edge's): made absolute here.
  const origin = new Map<string, Point>();
  const states: PlacedState[] = [];
  const byId = new Map<string, ChartNode>();
  const index = (n: ChartNode) => {
    byId.set(elkId(n.id), n);
    n.children.forEach(index);
  };
  index(chart.root);
  const walk = (n: ElkNode, ox: number, oy: number) => {
    const x = ox + (n.x ?? 0), y = oy + (n.y ?? 0);
    origin.set(n.id, { x, y });
    if (n.id !== elkId("")) states.push({ node: byId.get(n.id)!, x, y, w: n.width!, h: n.height! });
    for (const c of n.children ?? []) walk(c, x, y);
  };
  walk(out, 0, 0);
  const edges = out.edges.map((e, i): PlacedEdge => {
    const o = origin.get(e.container ?? elkId("")) ?? { x: 0, y: 0 };
    const s = e.sections?.[0];
    const points: [number, number][] = s
      ? [s.startPoint, ...s.bendPoints ?? [], s.endPoint].map((p) => [o.x + p.x, o.y + p.y])
      : [];
    const l = e.labels?.[0];
    const label = l && l.x !== undefined
      ? { x: o.x + l.x, y: o.y + l.y!, w: l.width, h: l.height }
      : undefined;
    return { from: arrows[i].from, to: arrows[i].to, lines: arrows[i].lines, points, label };
  });
  return { chart, width: out.width!, height: out.height!, states, edges };
}
