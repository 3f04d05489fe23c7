/**
 * Every machine's chart, laid out by ELK and drawn as SVG, read back from the SVG itself: no two state boxes
 * overlap unless one holds the other, no label overlaps a state or another label, and no arrow passes through a
 * state that is not one of its ends (or holds one).
 */

import assert from "node:assert/strict";
import { MACHINES } from "../../actors/machines.ts";
import { layoutChart } from "../../src/ui/chart_layout.ts";
import { svgOf } from "../../src/ui/chart_svg.ts";
import { chartOf } from "../../src/ui/charts.ts";

interface Box {
  x: number;
  y: number;
  w: number;
  h: number;
}

/** What the SVG says: state boxes by path, label boxes and arrows with their ends. */
export function readSvg(svg: string) {
  const n = (s: string) => Number(s);
  const states = [...svg.matchAll(
    /<g class="state (\w+)[^"]*" data-state="([^"]*)"><rect x="([-\d.]+)" y="([-\d.]+)" width="([-\d.]+)" height="([-\d.]+)"/g,
  )].map((m) => ({ kind: m[1], id: m[2], x: n(m[3]), y: n(m[4]), w: n(m[5]), h: n(m[6]) }));
  const edges = [...svg.matchAll(/<g class="edge" data-from="([^"]*)" data-to="([^"]*)"><path d="([^"]*)"/g)]
    .map((m) => ({
      from: m[1],
      to: m[2],
      points: [...m[3].matchAll(/[ML] ([-\d.]+) ([-\d.]+)/g)].map((p) =>
        [n(p[1]), n(p[2])] as [number, number]
      ),
    }));
  const labels = [
    ...svg.matchAll(/<rect class="label" x="([-\d.]+)" y="([-\d.]+)" width="([-\d.]+)" height="([-\d.]+)"/g),
  ].map((m, i) => ({ x: n(m[1]), y: n(m[2]), w: n(m[3]), h: n(m[4]), i }));
  return { states, edges, labels };
}

/** Boxes overlap (touching edges do not count). */
const overlap = (a: Box, b: Box) =>
  a.x < b.x + b.w - 0.5 && b.x < a.x + a.w - 0.5 && a.y < b.y + b.h - 0.5 && b.y < a.y + a.h - 0.5;
const inside = (a: Box, b: Box) =>
  a.x >= b.x - 0.5 && a.y >= b.y - 0.5 && a.x + a.w <= b.x + b.w + 0.5 && a.y + a.h <= b.y + b.h + 0.5;
/** `a` is `b` or holds it. */
const holds = (a: string, b: string) => a === b || b.startsWith(a + ".");

/** True when the segment p→q passes through the inside of `box` (shrunk by a pixel: touching is fine). */
function crosses(p: [number, number], q: [number, number], box: Box): boolean {
  const x0 = box.x + 1, x1 = box.x + box.w - 1, y0 = box.y + 1, y1 = box.y + box.h - 1;
  let t0 = 0, t1 = 1;
  const dx = q[0] - p[0], dy = q[1] - p[1];
  for (const [pk, qk] of [[-dx, p[0] - x0], [dx, x1 - p[0]], [-dy, p[1] - y0], [dy, y1 - p[1]]]) {
    if (pk === 0) {
      if (qk < 0) return false;
    } else {
      const r = qk / pk;
      if (pk < 0) t0 = Math.max(t0, r);
      else t1 = Math.min(t1, r);
      if (t0 > t1) return false;
    }
  }
  return true;
}

for (const [name, machine] of Object.entries(MACHINES)) {
  Deno.test(`the ${name} chart: no box over another, no label over a state or a label, no arrow through a state`, async () => {
    const { states, edges, labels } = readSvg(svgOf(await layoutChart(chartOf(name, machine))));
    assert(states.length > 0 && edges.length > 0);
    for (const a of states) {
      for (const b of states) {
        if (a === b) continue;
        if (holds(a.id, b.id)) assert(inside(b, a), `${b.id} lies inside ${a.id}`);
        else if (!holds(b.id, a.id)) assert(!overlap(a, b), `${a.id} and ${b.id} overlap`);
      }
    }
    // A compound state's title strip is part of the state: nothing may cover it.
    const titles = states.filter((s) => s.kind === "compound").map((s) => ({ ...s, h: 24 }));
    for (const l of labels) {
      const e = edges[l.i];
      for (const s of states) {
        const container = s.kind === "compound" && holds(s.id, e.from) && holds(s.id, e.to);
        if (!container) assert(!overlap(l, s), `the label of ${e.from} → ${e.to} covers ${s.id}`);
      }
      for (const t of titles) {
        assert(!overlap(l, t), `the label of ${e.from} → ${e.to} covers ${t.id}'s title`);
      }
      for (const m of labels) if (m !== l) assert(!overlap(l, m), `labels ${l.i} and ${m.i} overlap`);
    }
    for (const e of edges) {
      assert(e.points.length >= 2, `${e.from} → ${e.to} has a path`);
      for (const s of states) {
        if (holds(s.id, e.from) || holds(s.id, e.to)) continue; // its ends, and what holds them
        for (let i = 1; i < e.points.length; i++) {
          assert(!crosses(e.points[i - 1], e.points[i], s), `${e.from} → ${e.to} passes through ${s.id}`);
        }
      }
    }
  });
}

Deno.test("the overlap checks fail on a drawing that breaks them", () => {
  const svg = `<g class="state atomic" data-state="a"><rect x="0" y="0" width="50" height="30"/></g>` +
    `<g class="state atomic" data-state="b"><rect x="100" y="0" width="50" height="30"/></g>` +
    `<g class="state atomic" data-state="c"><rect x="200" y="0" width="50" height="30"/></g>` +
    `<g class="edge" data-from="a" data-to="c"><path d="M 50 15 L 200 15"/>` +
    `<rect class="label" x="110" y="5" width="20" height="10"/></g>`;
  const { states, edges, labels } = readSvg(svg);
  assert.equal(states.length, 3);
  assert(crosses(edges[0].points[0], edges[0].points[1], states[1]), "a → c passes through b");
  assert(overlap(labels[0], states[1]), "the label covers b");
  assert(!crosses([0, 40], [300, 40], states[1]), "a line below b misses it");
});
