import assert from "node:assert/strict";
import { LinkReports, reportBatch } from "../../src/peer/link_reports.ts";
import type { LinkEvent } from "../../src/peer/link_events.ts";

const KiB = 1024;
const piece = (index: number, size: number) => ({ index, data: new Uint8Array(size) });

function harness(want = 16) {
  const events: LinkEvent[] = [];
  return { events, reports: new LinkReports((e) => events.push(e), () => want) };
}

Deno.test("LinkReports holds completed pieces until 4 MiB wait, then reports them in one event", () => {
  const { events, reports } = harness(40);
  for (let i = 0; i < 15; i++) reports.completed(piece(i, 256 * KiB));
  assert.equal(reports.piecesDue(40), false, "15 pieces of 256 KiB wait");
  reports.completed(piece(15, 256 * KiB));
  assert.equal(reports.piecesDue(40), true);
  reports.flushPieces();
  assert.deepEqual(events.map((e) => e.type === "link.pieces" && e.pieces.length), [16]);
  assert.equal(reports.piecesDue(40), false, "nothing waits after a report");
  for (let i = 0; i < 127; i++) reports.completed(piece(i, 16 * KiB));
  assert.equal(reports.piecesDue(40), false);
  reports.completed(piece(127, 16 * KiB));
  assert.equal(reports.piecesDue(40), true, "128 small pieces, 2 MiB");
  reports.flushPieces();
  for (let i = 0; i < 127; i++) reports.completed(piece(i, 4 * KiB));
  assert.equal(reports.piecesDue(40), false);
  reports.completed(piece(127, 4 * KiB));
  assert.equal(reports.piecesDue(40), true, "128 tiny pieces, however small");
  reports.close();
});

Deno.test("reportBatch() is what waits for one report at most, so a link asks for that many pieces more", () => {
  assert.equal(reportBatch(256 * KiB), 16);
  assert.equal(reportBatch(16 * KiB), 128);
  assert.equal(reportBatch(4 * KiB), 128);
  assert.equal(reportBatch(16 * 1024 * KiB), 1);
  assert.equal(reportBatch(4 * 1024 * KiB), 1);
});

Deno.test("LinkReports reports at once when the link runs low on work or a piece was written as it came, not when checked", () => {
  const { reports } = harness(16);
  reports.completed(piece(0, 256 * KiB));
  assert.equal(reports.piecesDue(8), false, "8 of the 16 wanted are still assigned");
  assert.equal(reports.piecesDue(7), true, "fewer than half");
  reports.flushPieces();
  reports.completed({ index: 1, digest: new Uint8Array(20) });
  assert.equal(reports.piecesDue(16), true);
  reports.flushPieces();
  // One its link checked and wrote holds no buffer, yet waits for company like one that does, by its size.
  for (let i = 2; i < 17; i++) reports.completed({ index: i, checked: true }, 256 * KiB);
  assert.equal(reports.piecesDue(16), false, "15 pieces of 256 KiB wait");
  reports.completed({ index: 17, checked: true }, 256 * KiB);
  assert.equal(reports.piecesDue(16), true, "4 MiB");
  reports.close();
});

Deno.test("LinkReports reports a lone piece after 20 ms, and nothing once closed", async () => {
  const { events, reports } = harness();
  reports.completed(piece(0, 256 * KiB));
  await new Promise((r) => setTimeout(r, 60));
  assert.deepEqual(events.map((e) => e.type), ["link.pieces"]);
  reports.completed(piece(1, 256 * KiB));
  reports.close();
  await new Promise((r) => setTimeout(r, 60));
  assert.equal(events.length, 1, "the timer went with the link");
  reports.has(3);
  reports.has(9);
  reports.flushHaves();
  assert.deepEqual(events[1], { type: "link.haves", indices: [3, 9] });
});
