/**
 * Tracker faults: the tracker fails the first announces (HTTP 503, a body that is not bencode, a failure reason,
 * no answer, a redirect). The client says what happened, retries with back-off, keeps the peers it has, and the
 * download finishes.
 */

import assert from "node:assert/strict";
import { startDownload } from "../../actors/client.ts";
import { parseMetainfo } from "../../src/metainfo/metainfo.ts";
import { makeTorrent, payload, testTorrent } from "../helpers/make_torrent.ts";
import { unusedPort } from "../helpers/ports.ts";
import { type ScriptedSeeder, startSeeder } from "../helpers/scripted_seeder.ts";
import { startTracker, type TrackerFault } from "../helpers/test_tracker.ts";
import { startUdpTracker } from "../helpers/udp_test_tracker.ts";

const CASES: [TrackerFault[], RegExp[]][] = [
  [["http-503", "http-503"], [/answered HTTP 503/]],
  [["not-bencode"], [/not bencode: "<html>Bad Gateway<\/html>"/]],
  [["failure-reason"], [/tracker refused: try later/]],
  [["hang"], [/unreachable: no answer in 0.3 s/]],
  [["redirect"], []],
];

for (const [faults, said] of CASES) {
  Deno.test(`a tracker that first answers ${faults.join(", ")} is retried and the download finishes`, async () => {
    const pieceLength = 32 * 1024;
    const { torrent, data } = await makeTorrent({
      name: "t.bin",
      files: [{ path: ["t.bin"], data: payload(300_001, 3) }],
      pieceLength,
    });
    const meta0 = await parseMetainfo(torrent);
    const seeder = startSeeder({ infoHash: meta0.infoHash, data, pieceLength });
    const tracker = startTracker([{ host: "127.0.0.1", port: seeder.port }], 1800, faults);
    const meta = { ...meta0, trackers: [[tracker.url]] };
    const dir = await Deno.makeTempDir();
    const errors: string[] = [];
    try {
      const result = await startDownload(meta, {
        out: `${dir}/t.bin`,
        trackerTimeoutMs: 300,
        trackerRetryMs: 50,
        inspect(e) {
          if (e.type === "@xstate.event" && e.event.type === "tracker.error") {
            errors.push(String(e.event.message));
          }
        },
      }).done;
      assert(result.ok, result.error);
      assert.deepEqual(await Deno.readFile(`${dir}/t.bin`), data);
      assert.equal(errors.length, faults.filter((f) => f !== "redirect").length, errors.join("; "));
      for (const pattern of said) {
        assert(errors.some((m) => pattern.test(m)), `${pattern} in ${errors.join("; ")}`);
      }
    } finally {
      await seeder.close();
      await tracker.close();
      await Deno.remove(dir, { recursive: true });
    }
  });
}

Deno.test("a tracker that lists no peers does not lose the peers we already have", async () => {
  // The peer we were given refuses at first: its address waits in the book for a retry. The tracker's empty
  // answer arrives meanwhile; only then does the peer start listening, so the download can finish only if the
  // empty answer left the address in the book.
  const { meta, data } = await testTorrent({ size: 200_000, pieceLength: 32 * 1024, seed: 4, name: "z.bin" });
  const seederPort = unusedPort();
  const tracker = startTracker([]);
  const dir = await Deno.makeTempDir();
  let seeder: ScriptedSeeder | undefined;
  try {
    const session = startDownload({ ...meta, trackers: [[tracker.url]] }, {
      out: `${dir}/z.bin`,
      peers: [{ host: "127.0.0.1", port: seederPort }],
      noPeersTimeoutMs: 20_000,
      listen: false,
    });
    while (tracker.announces.length === 0 || session.peers().length > 0) {
      await new Promise((r) => setTimeout(r, 20));
    }
    seeder = startSeeder({ infoHash: meta.infoHash, data, pieceLength: 32 * 1024, port: seederPort });
    const result = await session.done;
    assert(result.ok, result.error);
    assert.deepEqual(await Deno.readFile(`${dir}/z.bin`), data);
    assert(seeder.connections >= 1, "the peer was dialled again after the empty answer");
  } finally {
    await seeder?.close();
    await tracker.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("tiers: a dead first tier (HTTP and UDP) falls through to a UDP tracker, which is told stopped", async () => {
  const pieceLength = 32 * 1024;
  const { torrent, data } = await makeTorrent({
    name: "u.bin",
    files: [{ path: ["u.bin"], data: payload(250_000, 6) }],
    pieceLength,
  });
  const meta0 = await parseMetainfo(torrent);
  const seeder = startSeeder({ infoHash: meta0.infoHash, data, pieceLength });
  const udp = await startUdpTracker([{ host: "127.0.0.1", port: seeder.port }], { drop: 1 });
  const silentUdp = await startUdpTracker([], { drop: Infinity });
  const deadHttp = `http://127.0.0.1:${unusedPort()}/announce`; // refused at once
  const dir = await Deno.makeTempDir();
  const errors: string[] = [];
  try {
    const meta = { ...meta0, trackers: [[deadHttp, silentUdp.url], [udp.url]] };
    const result = await startDownload(meta, {
      out: `${dir}/u.bin`,
      trackerTimeoutMs: 200,
      udpRetryMs: 40,
      inspect(e) {
        if (e.type === "@xstate.event" && e.event.type === "tracker.error") {
          errors.push(String(e.event.message));
        }
      },
    }).done;
    assert(result.ok, result.error);
    assert.deepEqual(await Deno.readFile(`${dir}/u.bin`), data);
    assert.deepEqual(errors, [], "one tier answering is not an error");
    assert(silentUdp.received.length >= 2, "the silent UDP tracker got a retransmission");
    // started, then completed and stopped when the client leaves (BEP 15 events 2, 1, 3).
    assert.deepEqual(udp.announces.map((a) => a.event), [2, 1, 3]);
  } finally {
    await seeder.close();
    udp.close();
    silentUdp.close();
    await Deno.remove(dir, { recursive: true });
  }
});
