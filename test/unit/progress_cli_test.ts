import assert from "node:assert/strict";
import { parseDuration } from "../../cli/main.ts";
import { formatBytes, formatDuration, progressLine } from "../../cli/progress_format.ts";

Deno.test("formatBytes() and formatDuration() read as a person expects", () => {
  assert.deepEqual([formatBytes(17), formatBytes(1536), formatBytes(1024 ** 3)], [
    "17 B",
    "1.50 KiB",
    "1.00 GiB",
  ]);
  assert.deepEqual([formatDuration(7), formatDuration(754), formatDuration(3723), formatDuration(Infinity)], [
    "0:07",
    "12:34",
    "1:02:03",
    "--:--",
  ]);
});

Deno.test("progressLine() shows the bar, rate, peers, ETA, and upload and state when seeding", () => {
  const p = {
    state: "active.downloading",
    totalBytes: 1000,
    verifiedBytes: 250,
    connectedPeers: 2,
    peers: 3,
    knownPeers: 9,
    uploadedBytes: 0,
  };
  assert.equal(
    progressLine(p, 75, 8),
    "[##------]  25.0%  250 B/1000 B  75 B/s  peers 2/3 (9 known)  ETA 0:10",
  );
  assert.equal(
    progressLine({ ...p, state: "active.seeding", verifiedBytes: 1000, uploadedBytes: 1500 }, 0, 0),
    "100.0%  1000 B/1000 B  0 B/s  peers 2/3 (9 known)  ETA --:--  up 1.46 KiB (ratio 1.50) seeding",
  );
});

Deno.test("parseDuration() reads 90s, 30m, 2h, 1h30m and bare seconds, and refuses the rest", () => {
  assert.deepEqual(["90s", "30m", "2h", "1h30m", "45"].map(parseDuration), [
    90_000,
    1_800_000,
    7_200_000,
    5_400_000,
    45_000,
  ]);
  for (const bad of ["", "soon", "1d", "m"]) assert.throws(() => parseDuration(bad), /not a duration/);
});
