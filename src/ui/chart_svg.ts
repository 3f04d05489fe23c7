/**
 * A laid-out state chart (`chart_layout.ts`) as SVG: nested boxes for states (each `<g class="state"
 * data-state="path">`, so a page can light the states actors are in and count them), orthogonal arrows, and each
 * arrow's events on a label box of their own. Self-contained: no fonts or scripts from elsewhere.
 *
 * @module
 */

import { type ChartLayout, layoutChart, TITLE_H } from "./chart_layout.ts";
import type { Chart } from "./charts.ts";

const escape = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
const f = (n: number) => String(Math.round(n * 10) / 10);

const STYLE =
  `.state rect{fill:#f6f8fa;stroke:#57606a}.state.compound>rect{fill:#fcfcfd;stroke-dasharray:4 3}` +
  `.state.final rect{stroke-width:3}.state.active>rect{fill:#dafbe1;stroke:#1a7f37;stroke-width:2}` +
  `.state.compound.active>rect{fill:#f3fbf5}text{font:12px sans-serif;fill:#24292f}.title{font-weight:bold}` +
  `.count{font-size:11px;fill:#1a7f37;font-weight:bold}.edge path{stroke:#8c959f;fill:none}` +
  `.edge rect.label{fill:#fff;fill-opacity:.85;stroke:none}.edge text{font-size:10px;fill:#57606a}` +
  `.note{font-size:11px;fill:#57606a}marker path{fill:#8c959f}`;

/** The laid-out chart as an SVG document. */
export function svgOf(layout: ChartLayout): string {
  const { chart } = layout;
  const parts: string[] = [];
  const depth = (id: string) => id.split(".").length;
  for (const s of [...layout.states].sort((a, b) => depth(a.node.id) - depth(b.node.id))) {
    const compound = s.node.children.length > 0;
    const cls = compound ? "compound" : s.node.type === "final" ? "final" : "atomic";
    const label = compound
      ? `<text x="${f(s.x + 10)}" y="${f(s.y + TITLE_H / 2 + 5)}" class="title">${
        escape(s.node.label)
      }</text>`
      : `<text x="${f(s.x + s.w / 2)}" y="${f(s.y + s.h / 2 + 4)}" text-anchor="middle">${
        escape(s.node.label)
      }</text>`;
    parts.push(
      `<g class="state ${cls}" data-state="${s.node.id}"><rect x="${f(s.x)}" y="${f(s.y)}" width="${
        f(s.w)
      }" ` +
        `height="${f(s.h)}" rx="8"/>${label}<text class="count" x="${f(s.x + s.w - 6)}" y="${f(s.y + 12)}" ` +
        `text-anchor="end"></text></g>`,
    );
  }
  for (const e of layout.edges) {
    if (e.points.length < 2) continue;
    const d = e.points.map(([x, y], i) => `${i === 0 ? "M" : "L"} ${f(x)} ${f(y)}`).join(" ");
    const box = e.label;
    const text = box
      ? `<rect class="label" x="${f(box.x)}" y="${f(box.y)}" width="${f(box.w)}" height="${f(box.h)}"/>` +
        `<text x="${f(box.x + 4)}" y="${f(box.y + 2)}">${
          e.lines.map((l) => `<tspan x="${f(box.x + 4)}" dy="13">${escape(l)}</tspan>`).join("")
        }</text>`
      : "";
    parts.push(
      `<g class="edge" data-from="${e.from}" data-to="${e.to}"><path d="${d}" marker-end="url(#arrow)"/>` +
        `<title>${escape(e.from)} → ${escape(e.to)}: ${escape(e.lines.join(", "))}</title>${text}</g>`,
    );
  }
  // The machine's own transitions go from any state: a line under the chart says so.
  const global = chart.edges.filter((e) => e.from === "" && e.to !== "").map((e) => `${e.label} → ${e.to}`);
  const footer = global.length > 0
    ? `<text class="note" x="4" y="${f(layout.height + 14)}">from any state: ${
      escape(global.join(", "))
    }</text>`
    : "";
  const width = Math.max(layout.width, global.join(", ").length * 6.2 + 110);
  const height = layout.height + (global.length > 0 ? 22 : 0);
  return `<svg xmlns="http://www.w3.org/2000/svg" class="chart" data-machine="${chart.name}" viewBox="0 0 ${
    f(width)
  } ${f(height)}" width="${f(width)}" height="${f(height)}">` +
    `<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" ` +
    `orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z"/></marker></defs><style>${STYLE}</style>` +
    parts.join("") + footer + `</svg>\n`;
}

/** The chart laid out and drawn. */
export async function chartSvg(chart: Chart): Promise<string> {
  return svgOf(await layoutChart(chart));
}
