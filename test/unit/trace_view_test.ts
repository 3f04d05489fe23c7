import assert from "node:assert/strict";
import { parseTrace, stateString, type TraceRecord } from "../../src/ui/trace.ts";
import { SwarmView, viewAt } from "../../src/ui/view.ts";

Deno.test("stateString() writes nested state values as dotted paths", () => {
  assert.equal(stateString("checking"), "checking");
  assert.equal(stateString({ active: "downloading" }), "active.downloading");
  assert.equal(stateString({ connected: { choked: {} } }), "connected.choked");
});

const RUN: TraceRecord[] = [
  { t: 1000, kind: "torrent", name: "x.bin", infoHash: "ab", pieceCount: 4, totalBytes: 4096 },
  { t: 1000, kind: "actor", id: "torrent", machine: "torrent", state: "checking" },
  { t: 1010, kind: "transition", id: "torrent", from: "checking", event: "done", to: "active.downloading" },
  { t: 1020, kind: "actor", id: "10.0.0.1:1", machine: "peer", parent: "torrent", state: "connecting" },
  {
    t: 1030,
    kind: "transition",
    id: "10.0.0.1:1",
    from: "connecting",
    event: "link.connected",
    to: "handshaking",
  },
  {
    t: 1500,
    kind: "sample",
    sample: {
      state: "active.downloading",
      totalBytes: 4096,
      verifiedBytes: 1024,
      uploadedBytes: 0,
      knownPeers: 1,
      pieces: "vr..",
      peers: [{ id: "10.0.0.1:1", down: 2048, up: 10, pieces: 1, incoming: false }],
    },
  },
  {
    t: 2000,
    kind: "transition",
    id: "10.0.0.1:1",
    from: "handshaking",
    event: "link.closed",
    to: "failed",
    reason: "bye",
  },
  { t: 2000, kind: "stopped", id: "10.0.0.1:1" },
];

Deno.test("SwarmView folds records into actors, their time in state, recent transitions and rates", () => {
  const view = new SwarmView();
  RUN.forEach((r) => view.apply(r));
  const v = view.snapshot();
  assert.equal(v.t0, 1000);
  assert.equal(v.torrent?.name, "x.bin");
  const peer = v.actors.find((a) => a.id === "10.0.0.1:1")!;
  assert.deepEqual([peer.state, peer.alive, peer.reason, peer.since], ["failed", false, "bye", 2000]);
  assert.equal(v.actors.find((a) => a.id === "torrent")?.state, "active.downloading");
  assert.equal(v.recent.length, 3);
  assert.deepEqual(v.rates, [{ t: 1500, down: 2048, up: 10 }]);
  assert.equal(v.sample?.pieces, "vr..");
  // An ended actor leaves the view after a while.
  assert.equal(view.snapshot(30_000).actors.some((a) => a.id === "10.0.0.1:1"), false);
});

Deno.test("viewAt() shows a recorded run as it stood at any time", () => {
  assert.equal(viewAt(RUN, 1025).actors.find((a) => a.id === "10.0.0.1:1")?.state, "connecting");
  assert.equal(viewAt(RUN, 1600).actors.find((a) => a.id === "10.0.0.1:1")?.state, "handshaking");
  assert.equal(viewAt(RUN, 1600).t, 1600);
});

Deno.test("parseTrace() reads JSON lines and names a bad line", () => {
  const text = RUN.map((r) => JSON.stringify(r)).join("\n") + "\n\n";
  assert.deepEqual(parseTrace(text), RUN);
  assert.throws(() => parseTrace('{"t":1,"kind":"actor"}\nnot json'), /trace line 2 is not JSON/);
  assert.throws(() => parseTrace('{"kind":"actor"}'), /trace line 1 is not a trace record/);
});
