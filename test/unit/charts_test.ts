import assert from "node:assert/strict";
import { MACHINES } from "../../actors/machines.ts";
import { chartSvg } from "../../src/ui/chart_svg.ts";
import { chartOf, eventLabel, toMermaid } from "../../src/ui/charts.ts";
import { CHARTS_JSON, machineDocs } from "../../src/ui/docs.ts";

const DOCS = new URL("../../docs/machines/", import.meta.url);

Deno.test("chartOf() walks the peer machine: nested states, the initial ones and labelled transitions", () => {
  const chart = chartOf("peer", MACHINES.peer);
  assert.deepEqual(chart.root.children.map((c) => c.id), [
    "connecting",
    "handshaking",
    "connected",
    "failed",
  ]);
  assert.equal(chart.root.initial, "connecting");
  const connected = chart.root.children.find((c) => c.id === "connected")!;
  assert.deepEqual(connected.children.map((c) => c.id), ["connected.choked", "connected.downloading"]);
  assert.equal(connected.initial, "connected.choked");
  const has = (from: string, to: string, label: string) =>
    assert(
      chart.edges.some((e) => e.from === from && e.to === to && e.label === label),
      `${from} → ${to}: ${label}`,
    );
  has("connecting", "handshaking", "link.connected");
  has("connecting", "failed", "after connectTimeout");
  has("connected.choked", "connected.downloading", "link.unchoked");
  has("connected.downloading", "connected.choked", "link.choked");
  has("", "failed", "ban");
});

Deno.test("chartOf() names guards and shortens timer and actor events", () => {
  const chart = chartOf("torrent", MACHINES.torrent);
  assert(
    chart.edges.some((e) =>
      e.from === "active.downloading" && e.to === "leaving" && e.label === "always [complete]"
    ),
  );
  const magnet = chartOf("magnet", MACHINES.magnet);
  assert(
    magnet.edges.some((e) => e.from === "fetching" && e.to === "parsing" && e.label === "metadata.done"),
  );
  assert(
    magnet.edges.some((e) =>
      e.from === "fetching" && e.to === "failed" && e.label === "tick [noPeersTooLong]"
    ),
  );
  assert.equal(eventLabel("xstate.after.chokedTimeout.peer.connected.choked"), "after chokedTimeout");
  assert.equal(eventLabel("xstate.done.actor.coordinator"), "coordinator done");
  assert.equal(eventLabel("xstate.error.actor.0.torrent.checking"), "error");
});

Deno.test("toMermaid() and chartSvg() draw every state, each SVG state marked with its path for the live view", async () => {
  const chart = chartOf("peer", MACHINES.peer);
  const mermaid = toMermaid(chart);
  assert.match(mermaid, /^stateDiagram-v2\n/);
  assert.match(mermaid, /state "connected" as connected \{/);
  assert.match(mermaid, /connected_choked --> connected_downloading: link.unchoked/);
  // A peer's `failed` is not final (see actors/peer.ts); the torrent's final states are drawn as ends.
  assert.doesNotMatch(mermaid, /\[\*\]\n/);
  assert.match(toMermaid(chartOf("torrent", MACHINES.torrent)), /failed --> \[\*\]/);
  const svg = await chartSvg(chart);
  for (
    const id of [
      "connecting",
      "handshaking",
      "connected",
      "connected.choked",
      "connected.downloading",
      "failed",
    ]
  ) {
    assert(svg.includes(`data-state="${id}"`), id);
  }
  assert(!/https?:\/\/(?!www\.w3\.org)/.test(svg), "nothing is loaded from elsewhere");
});

Deno.test("the diagrams under docs/machines match the machines (run `deno task viz` after changing one)", async () => {
  for (const [name, text] of await machineDocs(MACHINES)) {
    // The SVGs the live view imports sit in src/ui, the rest in docs/machines.
    const where = name === CHARTS_JSON
      ? new URL("../../src/ui/machine_charts.json", import.meta.url)
      : new URL(name, DOCS);
    const committed = await Deno.readTextFile(where).catch(() => "(missing)");
    assert.equal(committed, text, `docs/machines/${name} is out of date: run deno task viz`);
  }
});
