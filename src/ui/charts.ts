/**
 * State charts drawn from the machine definitions themselves: a walk of an XState machine's state nodes gives a
 * graph (states, nesting, transitions with their events and guards), rendered as Mermaid for the docs here and
 * as SVG (`chart_svg.ts`, laid out by ELK in `chart_layout.ts`) for the docs and the live view. Nothing is drawn
 * by hand, so the pictures cannot drift from the code.
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
