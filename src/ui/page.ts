/**
 * The live view's page: one self-contained HTML document (styles and script inline, no CDN, no network beyond
 * the server it came from). It renders view snapshots (see view.ts): live ones pushed over server-sent events,
 * or, in replay, the snapshot at the time a scrubber points to.
 *
 * @module
 */

/** The page, with the machines' state charts (SVG) inlined. */
export function pageHtml(charts: string[], mode: "live" | "replay"): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>actorrent — swarm</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:13px/1.4 system-ui,sans-serif;margin:0;color:#24292f;background:#fff}
header{padding:10px 16px;background:#24292f;color:#fff;display:flex;gap:24px;align-items:baseline;flex-wrap:wrap}
header h1{font-size:16px;margin:0}header .k{color:#8c959f}
main{padding:12px 16px;display:grid;grid-template-columns:minmax(0,1fr) minmax(0,1fr);gap:16px}
section{border:1px solid #d0d7de;border-radius:6px;padding:8px 10px;overflow:auto}
section.wide{grid-column:1 / -1}
h2{font-size:13px;margin:0 0 6px}
table{border-collapse:collapse;width:100%}td,th{text-align:left;padding:2px 8px 2px 0;white-space:nowrap}
th{color:#57606a;font-weight:600}tr.failed td{color:#8c959f}
.state-connected\\.downloading{color:#1a7f37;font-weight:600}.state-failed{color:#cf222e}
#pieces{width:100%;image-rendering:pixelated;border:1px solid #d0d7de}
.legend span{display:inline-block;width:10px;height:10px;margin:0 4px 0 10px;vertical-align:middle}
#transitions{font:12px ui-monospace,monospace;max-height:220px;overflow:auto}
#scrub{display:${
    mode === "replay" ? "flex" : "none"
  };gap:8px;align-items:center;padding:8px 16px;background:#f6f8fa}
#scrub input{flex:1}
.charts{display:flex;flex-wrap:wrap;gap:12px;align-items:flex-start}
tr.peer,[data-actor]{cursor:pointer}tr.peer:hover{background:#f6f8fa}
#focus .mine>rect{stroke:#0969da;stroke-width:3}#focus-body{display:flex;gap:16px;flex-wrap:wrap}
#focus-transitions{font:12px ui-monospace,monospace;max-height:260px;overflow:auto}
</style></head>
<body data-mode="${mode}">
<header><h1 id="name">waiting for the torrent…</h1>
<div><span class="k">torrent</span> <b id="torrent-state" data-actor="torrent">–</b></div>
<div><span class="k">coordinator</span> <b id="coordinator-state" data-actor="coordinator">–</b></div>
<div><span class="k">verified</span> <b id="progress">–</b></div>
<div><span class="k">down/up</span> <b id="rates">–</b></div>
<div><span class="k">peers</span> <b id="peer-count">–</b></div>
<div><span class="k">tracker</span> <span id="tracker">–</span></div>
<div><span class="k">dht</span> <span id="dht" data-actor="dht">–</span></div></header>
<div id="scrub"><button id="play">▶</button><input id="time" type="range" min="0" max="0" value="0" step="50">
<span id="clock">0.0 s</span></div>
<main>
<section class="wide" id="focus" hidden><h2><span id="focus-title"></span> <span id="focus-state"></span>
<button id="focus-close">close</button></h2><div id="focus-now"></div><div id="focus-body"><div id="focus-chart"></div>
<div id="focus-transitions"></div></div></section>
<section class="wide"><h2>State charts (drawn from the machines; green: states actors are in, with counts)</h2>
<div class="charts">${charts.join("\n")}</div></section>
<section><h2>Peers and web seeds (click one for its own chart)</h2><table><thead><tr><th>peer</th><th>client</th><th>via</th><th>state</th><th>for</th><th>down</th>
<th>up</th><th>pieces</th><th>why</th></tr></thead><tbody id="peers"></tbody></table></section>
<section><h2>Recent transitions</h2><div id="transitions"></div></section>
<section><h2>Pieces <span class="legend"><span style="background:#d0d7de"></span>missing<span
style="background:#54aeff"></span>requested<span style="background:#bf8700"></span>hashing<span
style="background:#2da44e"></span>verified<span style="background:#cf222e"></span>failed</span></h2>
<canvas id="pieces" width="600" height="60"></canvas><div id="piece-counts"></div></section>
<section><h2>Rates (download green, upload blue)</h2><svg id="rate-graph" viewBox="0 0 600 120"
preserveAspectRatio="none" width="100%" height="120"><polyline id="down-line" fill="none" stroke="#2da44e"
stroke-width="2"/><polyline id="up-line" fill="none" stroke="#0969da" stroke-width="2"/></svg>
<div id="rate-max"></div></section>
</main>
<script>
"use strict";
const $ = (id) => document.getElementById(id);
const COLORS = { ".": "#d0d7de", r: "#54aeff", h: "#bf8700", v: "#2da44e", x: "#cf222e" };
function bytes(n) {
  const u = ["B", "KiB", "MiB", "GiB", "TiB"]; let i = 0;
  while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
  return (i === 0 ? Math.round(n) : n.toFixed(n < 10 ? 2 : 1)) + " " + u[i];
}
function secs(ms) { return (ms / 1000).toFixed(1) + " s"; }
function cell(text, cls) { const td = document.createElement("td"); td.textContent = text; if (cls) td.className = cls; return td; }
let lastView = null;
function render(v) {
  lastView = v;
  document.body.dataset.t = String(v.t);
  if (v.torrent) $("name").textContent = v.torrent.name;
  const byId = new Map(v.actors.map((a) => [a.id, a]));
  $("torrent-state").textContent = byId.get("torrent")?.state ?? "–";
  $("coordinator-state").textContent = byId.get("coordinator")?.state ?? "–";
  const s = v.sample;
  if (s) {
    const pct = s.totalBytes > 0 ? (100 * s.verifiedBytes / s.totalBytes).toFixed(1) : "0.0";
    $("progress").textContent = pct + "% of " + bytes(s.totalBytes);
    $("tracker").textContent = s.tracker ?? "–";
    const d = s.dht;
    const n = (k, word) => k + " " + word + (k === 1 ? "" : "s");
    $("dht").textContent = d ? d.state + ", " + n(d.nodes, "node") + " in " + n(d.buckets, "bucket") + ", " +
      d.running + " of " + n(d.lookups, "lookup") + " running, " + n(d.peersFound, "peer") + " found, " +
      d.received + " in / " + d.sent + " out (" + d.malformed + " dropped)" : "off";
    drawPieces(s.pieces);
  }
  const last = v.rates[v.rates.length - 1];
  $("rates").textContent = last ? bytes(last.down) + "/s / " + bytes(last.up) + "/s" : "–";
  const peers = v.actors.filter((a) => a.machine === "peer" || a.machine === "webSeed");
  const alive = peers.filter((a) => a.alive);
  $("peer-count").textContent = alive.filter((a) => a.state.startsWith("connected")).length + " connected, " + alive.length + " actors" +
    (s?.silentClosed ? ", " + s.silentClosed + " silent connections closed" : "");
  const samples = new Map((s?.peers ?? []).map((p) => [p.id, p]));
  const rows = peers.sort((a, b) => (b.alive - a.alive) || a.id.localeCompare(b.id)).map((a) => {
    const p = samples.get(a.id);
    const tr = document.createElement("tr");
    tr.className = a.alive ? "peer" : "peer failed";
    tr.dataset.peer = a.id; tr.dataset.state = a.state;
    tr.append(cell(a.id), cell(p?.client ?? ""), cell(p?.transport ?? ""), cell(a.state, "state-" + a.state), cell(secs(v.t - a.since)),
      cell(p ? bytes(p.down) + "/s" : ""), cell(p ? bytes(p.up) + "/s" : ""), cell(p ? String(p.pieces) : ""), cell(a.reason ?? ""));
    return tr;
  });
  $("peers").replaceChildren(...rows);
  $("transitions").replaceChildren(...v.recent.slice(-25).reverse().map((r) => {
    const div = document.createElement("div");
    div.textContent = secs(r.t - v.t0).padStart(8) + "  " + r.id + ": " + r.from + " → " + r.to + "  (" + r.event + ")";
    div.dataset.actor = r.id; // any actor that moved can be opened from here
    return div;
  }));
  // Peers that ended leave the charts; the supervisor and coordinator show where they ended.
  highlight(v.actors.filter((a) => a.alive || a.machine !== "peer"));
  drawRates(v.rates);
  showFocus(v);
}
// One actor up close: its machine's chart with its own state lit, what it does now, its latest transitions.
let focus = null;
document.addEventListener("click", (e) => {
  const at = e.target.closest("tr[data-peer], [data-actor]");
  if (at) { focus = at.dataset.peer ?? at.dataset.actor; $("focus-chart").dataset.machine = ""; showFocus(lastView); }
});
$("focus-close").addEventListener("click", (e) => { e.stopPropagation(); focus = null; $("focus").hidden = true; });
async function showFocus(v) {
  if (!focus || !v) return;
  const id = focus;
  const replay = document.body.dataset.mode === "replay" ? "&t=" + v.t : "";
  const r = await fetch("/api/actor?id=" + encodeURIComponent(id) + replay);
  if (id !== focus) return;
  $("focus").hidden = false;
  if (!r.ok) { $("focus-state").textContent = "(gone)"; return; }
  const f = await r.json(), a = f.actor;
  $("focus-title").textContent = a.id + " (" + a.machine + ")";
  $("focus-state").textContent = a.state + " for " + secs(v.t - a.since) + (a.reason ? ": " + a.reason : "");
  const holder = $("focus-chart");
  if (holder.dataset.machine !== a.machine) {
    const chart = document.querySelector('.charts svg.chart[data-machine="' + a.machine + '"]');
    holder.replaceChildren(...(chart ? [chart.cloneNode(true)] : []));
    holder.dataset.machine = a.machine;
  }
  for (const g of holder.querySelectorAll("g.state")) {
    const s = g.dataset.state;
    g.classList.toggle("active", a.state === s || a.state.startsWith(s + "."));
    g.classList.toggle("mine", a.state === s);
    const c = g.querySelector(".count"); if (c) c.textContent = "";
  }
  const p = (v.sample?.peers ?? []).find((x) => x.id === a.id);
  const fetching = p?.inFlight?.length ? "fetching piece" + (p.inFlight.length > 1 ? "s " : " ") +
    p.inFlight.slice(0, 8).join(", ") + (p.inFlight.length > 8 ? ", …" : "") : "fetching nothing";
  $("focus-now").textContent = p ? [p.client ?? "unknown client", p.transport ?? "", "down " + bytes(p.down) + "/s",
    "up " + bytes(p.up) + "/s", fetching, "has " + p.pieces + " pieces", p.incoming ? "dialled us" : "dialled by us"]
    .filter(Boolean).join(" · ") : "";
  $("focus-transitions").replaceChildren(...f.transitions.slice().reverse().map((t) => {
    const div = document.createElement("div");
    div.textContent = secs(t.t - v.t0).padStart(8) + "  " + t.from + " → " + t.to + "  (" + t.event + ")" + (t.reason ? " " + t.reason : "");
    return div;
  }));
}
function highlight(actors) {
  for (const svg of document.querySelectorAll("svg.chart")) {
    const machine = svg.dataset.machine;
    const counts = new Map();
    for (const a of actors.filter((a) => a.machine === machine)) {
      const parts = a.state.split(".");
      for (let i = 1; i <= parts.length; i++) {
        const k = parts.slice(0, i).join(".");
        counts.set(k, (counts.get(k) ?? 0) + 1);
      }
    }
    for (const g of svg.querySelectorAll("g.state")) {
      const n = counts.get(g.dataset.state) ?? 0;
      g.classList.toggle("active", n > 0);
      const c = g.querySelector(".count");
      if (c) c.textContent = n > 0 && machine === "peer" ? String(n) : "";
    }
  }
}
function drawPieces(map) {
  const canvas = $("pieces"), n = map.length;
  if (n === 0) return;
  const cols = Math.min(n, 200), rows = Math.ceil(n / cols);
  canvas.width = cols; canvas.height = rows;
  canvas.style.height = Math.max(20, Math.min(200, rows * 4)) + "px";
  const ctx = canvas.getContext("2d");
  const counts = {};
  for (let i = 0; i < n; i++) {
    const c = map[i]; counts[c] = (counts[c] ?? 0) + 1;
    ctx.fillStyle = COLORS[c] ?? "#000"; ctx.fillRect(i % cols, Math.floor(i / cols), 1, 1);
  }
  canvas.dataset.verified = String(counts.v ?? 0);
  $("piece-counts").textContent = n + " pieces: " + (counts.v ?? 0) + " verified, " + (counts.r ?? 0) +
    " requested, " + (counts.h ?? 0) + " hashing, " + (counts.x ?? 0) + " failed, " + (counts["."] ?? 0) + " missing";
}
function drawRates(rates) {
  if (rates.length < 2) return;
  const t0 = rates[0].t, t1 = rates[rates.length - 1].t || t0 + 1;
  const max = Math.max(1, ...rates.map((r) => Math.max(r.down, r.up)));
  const pts = (k) => rates.map((r) => ((r.t - t0) / Math.max(1, t1 - t0) * 600).toFixed(1) + "," + (118 - r[k] / max * 114).toFixed(1)).join(" ");
  $("down-line").setAttribute("points", pts("down"));
  $("up-line").setAttribute("points", pts("up"));
  $("rate-max").textContent = "top of the graph: " + bytes(max) + "/s";
}
if (document.body.dataset.mode === "live") {
  const events = new EventSource("/events");
  events.onmessage = (e) => render(JSON.parse(e.data));
} else {
  const time = $("time");
  let playing = false;
  const show = async () => {
    const v = await (await fetch("/api/view?t=" + time.value)).json();
    $("clock").textContent = secs(Number(time.value) - Number(time.min));
    render(v);
  };
  fetch("/api/range").then((r) => r.json()).then((r) => {
    time.min = String(r.t0); time.max = String(r.t1); time.value = String(r.t0); show();
  });
  time.addEventListener("input", show);
  $("play").addEventListener("click", () => {
    playing = !playing; $("play").textContent = playing ? "❚❚" : "▶";
    const step = async () => {
      if (!playing) return;
      if (Number(time.value) >= Number(time.max)) { playing = false; $("play").textContent = "▶"; return; }
      time.value = String(Math.min(Number(time.max), Number(time.value) + 250)); await show(); setTimeout(step, 250);
    };
    step();
  });
}
</script></body></html>
`;
}
