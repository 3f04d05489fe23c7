import assert from "node:assert/strict";
import { decodeCompactPeers } from "../../src/common/peer_address.ts";
import { decodeReply, encodeAnnounce, encodeConnect } from "../../src/tracker/udp_packets.ts";
import { udpTarget, UdpTrackerClient } from "../../src/tracker/udp_client.ts";
import { startUdpTracker } from "../helpers/udp_test_tracker.ts";

const PARAMS = {
  infoHash: new Uint8Array(20).fill(0xab),
  peerId: new TextEncoder().encode("-AX0100-abcdefghijkl"),
  port: 6881,
  uploaded: 5,
  downloaded: 100,
  left: 2 ** 40,
  event: "started" as const,
};

const PEERS = [{ host: "10.1.2.3", port: 51413 }, { host: "127.0.0.1", port: 6882 }];

Deno.test("encodeConnect() carries the protocol id and the transaction id", () => {
  const v = new DataView(encodeConnect(0xdeadbeef).buffer);
  assert.equal(v.getBigUint64(0), 0x41727101980n);
  assert.equal(v.getUint32(8), 0);
  assert.equal(v.getUint32(12), 0xdeadbeef);
});

Deno.test("encodeAnnounce() lays out every field at its BEP 15 offset", () => {
  const packet = encodeAnnounce(0x0102030405060708n, 77, PARAMS, 99);
  const v = new DataView(packet.buffer);
  assert.equal(packet.length, 98);
  assert.equal(v.getBigUint64(0), 0x0102030405060708n);
  assert.equal(v.getUint32(8), 1);
  assert.equal(v.getUint32(12), 77);
  assert.deepEqual(packet.subarray(16, 36), PARAMS.infoHash);
  assert.deepEqual(packet.subarray(36, 56), PARAMS.peerId);
  assert.equal(v.getBigUint64(56), 100n);
  assert.equal(v.getBigUint64(64), 2n ** 40n);
  assert.equal(v.getBigUint64(72), 5n);
  assert.equal(v.getUint32(80), 2); // started
  assert.equal(v.getUint32(88), 99);
  assert.equal(v.getInt32(92), 80);
  assert.equal(v.getUint16(96), 6881);
});

Deno.test("decodeReply() reads every action and refuses packets too short to be one", () => {
  assert.equal(decodeReply(new Uint8Array(7), false), undefined);
  assert.equal(decodeReply(new Uint8Array([0, 0, 0, 0, 0, 0, 0, 1, 0]), false), undefined); // connect, 9 bytes
  const announce = new Uint8Array(20 + 6 + 3);
  const v = new DataView(announce.buffer);
  v.setUint32(0, 1);
  v.setUint32(4, 5);
  v.setUint32(8, 900);
  v.setUint32(12, 4);
  v.setUint32(16, 2);
  announce.set([192, 168, 0, 9, 0x1a, 0xe1], 20);
  assert.deepEqual(decodeReply(announce, false), {
    action: "announce",
    transactionId: 5,
    response: { interval: 900, incomplete: 4, complete: 2, peers: [{ host: "192.168.0.9", port: 6881 }] },
  });
  const error = new Uint8Array([0, 0, 0, 3, 0, 0, 0, 9, ...new TextEncoder().encode("banned\0")]);
  assert.deepEqual(decodeReply(error, false), { action: "error", transactionId: 9, message: "banned" });
  assert.equal(decodeReply(new Uint8Array([0, 0, 0, 7, 0, 0, 0, 9]), false), undefined);
});

Deno.test("decodeCompactPeers() reads IPv6 entries and skips port 0", () => {
  const bytes = new Uint8Array(36);
  bytes[15] = 1; // ::1
  bytes[17] = 80;
  bytes[18 + 15] = 2; // ::2, port 0
  assert.deepEqual(decodeCompactPeers(bytes, true), [{ host: "0:0:0:0:0:0:0:1", port: 80 }]);
});

Deno.test("udpTarget() accepts udp:// with a port only", () => {
  assert.deepEqual(udpTarget("udp://tracker.example:1337/announce"), {
    host: "tracker.example",
    port: 1337,
    ipv6: false,
  });
  assert.deepEqual(udpTarget("udp://[::1]:6969"), { host: "::1", port: 6969, ipv6: true });
  assert.throws(() => udpTarget("udp://tracker.example/announce"), /bad UDP tracker URL/);
  assert.throws(() => udpTarget("http://tracker.example:80/"), /bad UDP tracker URL/);
});

Deno.test("UdpTrackerClient announces, reuses the connection id for a minute, then connects anew", async () => {
  const tracker = await startUdpTracker(PEERS);
  let now = 1_000_000;
  const client = new UdpTrackerClient({ retryBaseMs: 200, now: () => now });
  try {
    const res = await client.announce(tracker.url, PARAMS);
    assert.deepEqual(res.peers, PEERS);
    assert.equal(res.interval, 1800);
    assert.equal(res.complete, 3);
    assert.equal(res.incomplete, 5);
    await client.announce(tracker.url, { ...PARAMS, event: undefined });
    assert.deepEqual(tracker.received, [0, 1, 1]);
    now += 60_001;
    await client.announce(tracker.url, PARAMS);
    assert.deepEqual(tracker.received, [0, 1, 1, 0, 1]);
    assert.deepEqual(tracker.announces.map((a) => a.event), [2, 0, 2]);
    assert.equal(tracker.announces[0].left, 2n ** 40n);
  } finally {
    tracker.close();
  }
});

Deno.test("UdpTrackerClient retransmits lost packets and ignores replies to other transactions", async () => {
  const tracker = await startUdpTracker(PEERS, { drop: 2, stray: true });
  try {
    const client = new UdpTrackerClient({ retryBaseMs: 30 });
    const res = await client.announce(tracker.url, PARAMS);
    assert.deepEqual(res.peers, PEERS);
    assert.deepEqual(tracker.received, [0, 0, 0, 1]); // two connects lost, the third answered
  } finally {
    tracker.close();
  }
});

Deno.test("UdpTrackerClient reports the tracker's error message", async () => {
  const tracker = await startUdpTracker(PEERS, { error: "torrent not registered" });
  try {
    await assert.rejects(
      new UdpTrackerClient({ retryBaseMs: 100 }).announce(tracker.url, PARAMS),
      /tracker refused: torrent not registered/,
    );
  } finally {
    tracker.close();
  }
});

Deno.test("UdpTrackerClient gives up on a silent tracker after its retransmissions", async () => {
  const tracker = await startUdpTracker(PEERS, { drop: 1000 });
  try {
    const client = new UdpTrackerClient({ retryBaseMs: 10, maxRetries: 3 });
    await assert.rejects(client.announce(tracker.url, PARAMS), /unreachable: no answer after 4 attempts/);
    assert.equal(tracker.received.length, 4);
    // A time budget cuts the back-off short.
    const started = Date.now();
    await assert.rejects(
      new UdpTrackerClient({ retryBaseMs: 10_000 }).announce(tracker.url, PARAMS, 100),
      /unreachable/,
    );
    assert.ok(Date.now() - started < 5000);
  } finally {
    tracker.close();
  }
});

Deno.test("UdpTrackerClient scrapes counts for several infohashes", async () => {
  const tracker = await startUdpTracker(PEERS, {}, { seeders: 4, completed: 9, leechers: 1 });
  try {
    const counts = await new UdpTrackerClient().scrape(tracker.url, [PARAMS.infoHash, new Uint8Array(20)]);
    assert.deepEqual(counts, [
      { seeders: 4, completed: 9, leechers: 1 },
      { seeders: 4, completed: 9, leechers: 1 },
    ]);
  } finally {
    tracker.close();
  }
});
