/**
 * The machine diagrams kept under docs/: a Mermaid file and an SVG per machine, made from the machine
 * definitions. A test compares the committed files with these, so they cannot drift from the code.
 *
 * @module
 */

import { chartSvg } from "./chart_svg.ts";
import { chartOf, toMermaid } from "./charts.ts";

/** The file of all the SVGs by machine name, which `deno task viz` moves to `src/ui/machine_charts.json`. */
export const CHARTS_JSON = "charts.json";

/** File name → contents, for each machine. */
export async function machineDocs(machines: Record<string, { root: unknown }>): Promise<Map<string, string>> {
  const files = new Map<string, string>();
  const index = [
    "# State machines",
    "",
    "Made by `deno task viz` from the machine definitions; do not edit.",
    "",
  ];
  for (const [name, machine] of Object.entries(machines)) {
    const chart = chartOf(name, machine);
    files.set(`${name}.mmd`, toMermaid(chart));
    files.set(`${name}.svg`, await chartSvg(chart));
    index.push(
      `## ${name}`,
      "",
      `![${name}](${name}.svg)`,
      "",
      "```mermaid",
      toMermaid(chart).trimEnd(),
      "```",
      "",
    );
  }
  files.set("README.md", index.join("\n"));
  // Every SVG in one file the live view imports, so that it never lays a chart out at run time.
  const svgs = Object.fromEntries(
    [...files].filter(([name]) => name.endsWith(".svg")).map(([name, svg]) => [name.slice(0, -4), svg]),
  );
  files.set(CHARTS_JSON, JSON.stringify(svgs, null, 2) + "\n");
  return files;
}
