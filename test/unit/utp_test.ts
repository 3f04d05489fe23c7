/** uTP (BEP 29): the packet codec, sequence arithmetic, LEDBAT, the timers on a fake clock, and whole transfers. */

import assert from "node:assert/strict";
import { Ledbat, RoundTrip, TARGET_DELAY_US } from "../../src/utp/congestion.ts";
import { UtpEndpoint } from "../../src/utp/endpoint.ts";
import {
  decodePacket,
  encodePacket,
  looksLikeUtp,
  sackedSeqs,
  sackMask,
  seqAdd,
  seqDiff,
  ST_DATA,
  ST_RESET,
  ST_STATE,
  ST_SYN,
  type UtpPacket,
} from "../../src/utp/packet.ts";
import { DEFAULT_LIMITS } from "../../src/utp/limits.ts";
import { UtpSocket, type UtpWire } from "../../src/utp/socket.ts";
import { readBytes, readToEnd, utpPair, within, writeAllThenClose } from "../helpers/utp_pair.ts";

const randomBytes = (n: number) => {
  const out = new Uint8Array(n);
  for (let at = 0; at < n; at += 65536) crypto.getRandomValues(out.subarray(at, at + 65536));
  return out;
};

const packet = (over: Partial<UtpPacket> = {}): UtpPacket => ({
  type: ST_DATA,
  connectionId: 1234,
  timestamp: 0xfffffff0,
  timestampDiff: 77,
  window: 1 << 20,
  seq: 65535,
  ack: 9,
  payload: new Uint8Array([1, 2, 3]),
  ...over,
});

Deno.test("uTP packets: the header and the selective ack survive a round trip", () => {
  const sack = new Uint8Array([0b101, 0, 0, 0x80]);
  const bytes = encodePacket(packet({ sack }));
  assert.equal(bytes[0], 0x01); // ST_DATA, version 1
  assert.equal(bytes[1], 1); // selective ack follows
  assert.equal(bytes.length, 20 + 2 + 4 + 3);
  const back = decodePacket(bytes)!;
  assert.deepEqual({ ...back, sack: [...back.sack!], payload: [...back.payload] }, {
    ...packet(),
    sack: [...sack],
    payload: [1, 2, 3],
  });
  assert.equal(
    decodePacket(encodePacket(packet({ type: ST_SYN, payload: new Uint8Array(0) })))!.type,
    ST_SYN,
  );
});

Deno.test("uTP packets: anything else is not one", () => {
  const good = encodePacket(packet({ sack: new Uint8Array(4) }));
  assert.equal(decodePacket(good.subarray(0, 19)), undefined); // short
  assert.equal(decodePacket(Uint8Array.of(0x02, ...good.subarray(1))), undefined); // version 2
  assert.equal(decodePacket(Uint8Array.of(0x51, ...good.subarray(1))), undefined); // type 5
  const badSack = good.slice();
  badSack[21] = 0; // an empty mask
  assert.equal(decodePacket(badSack), undefined);
  // libtorrent sends masks of 1 or 2 bytes (BEP 29 says a multiple of 4): they are read.
  const short = Uint8Array.of(0x21, 1, ...good.subarray(2, 20), 0, 1, 0b10);
  assert.deepEqual(sackedSeqs(decodePacket(short)!.ack, decodePacket(short)!.sack!), [seqAdd(9, 3)]);
  const past = good.slice(0, 23); // the extension runs past the end
  assert.equal(decodePacket(past), undefined);
  assert.equal(looksLikeUtp("d".charCodeAt(0)), false); // a DHT packet
  assert.equal(looksLikeUtp(0x41), true);
});

Deno.test("uTP sequence numbers wrap at 16 bits", () => {
  assert.equal(seqDiff(2, 65534), 4);
  assert.equal(seqDiff(65534, 2), -4);
  assert.equal(seqAdd(65535, 1), 0);
  assert.equal(seqAdd(0, -1), 65535);
  // The selective ack names ack + 2 + bit, across the wrap.
  const have = new Set([seqAdd(65534, 2), seqAdd(65534, 4), seqAdd(65534, 40)]);
  const mask = sackMask(65534, (s) => have.has(s), 1000)!;
  assert.equal(mask.length, 8);
  assert.deepEqual(sackedSeqs(65534, mask), [0, 2, 38]);
  assert.equal(sackMask(5, () => false, 1000), undefined);
});

Deno.test("LEDBAT: the window grows under the target delay, shrinks over it, halves on loss", () => {
  const c = new Ledbat(1500, 1 << 20);
  c.onAck(1500, 1000, 0); // base delay 1 ms
  const start = c.window;
  c.onAck(1500, 1000, 10); // slow start: + acked
  assert.equal(c.window, start + 1500);
  c.onLoss();
  const halved = c.window;
  assert.equal(halved, (start + 1500) / 2);
  assert.equal(c.slowStart, false);
  c.onAck(halved, 1000 + TARGET_DELAY_US / 2, 20); // half the target: + half of 3000 bytes
  assert.equal(Math.round(c.window), halved + 1500);
  const before = c.window;
  c.onAck(before, 1000 + 2 * TARGET_DELAY_US, 30); // twice the target: - 3000 bytes
  assert.equal(Math.round(c.window), Math.round(before - 3000));
  c.onTimeout();
  assert.equal(c.window, 1500);
  for (let i = 0; i < 1000; i++) c.onAck(c.window, 1000, 40 + i);
  assert.equal(c.window, 1 << 20); // never past the ceiling
});

Deno.test("LEDBAT: the base delay is the lowest of the last two minutes", () => {
  const c = new Ledbat(1500, 1 << 20);
  c.onAck(1500, 50_000, 0);
  c.onAck(1500, 30_000, 1000);
  assert.equal(c.delays.base, 30_000);
  c.onAck(1500, 90_000, 61_000);
  c.onAck(1500, 80_000, 122_000); // the minute with 30 ms is gone
  assert.equal(c.delays.base, 80_000);
  assert.equal(c.queuingDelay, 0);
});

Deno.test("round trip: timeout of rtt + 4 rttvar, at least 500 ms, doubled on backoff", () => {
  const r = new RoundTrip();
  assert.equal(r.timeout, 1000);
  r.sample(400);
  assert.equal(r.timeout, 400 + 4 * 200);
  for (let i = 0; i < 50; i++) r.sample(10);
  assert.equal(r.timeout, 500);
  r.backOff();
  assert.equal(r.timeout, 1000);
});

/** A socket on a fake clock, its packets collected. */
function fakeSocket(incoming = false, seq?: number, limits = DEFAULT_LIMITS) {
  const sent: UtpPacket[] = [];
  const clock = { now: 0, closed: false };
  const wire: UtpWire = {
    send: (b) => sent.push(decodePacket(b)!),
    now: () => clock.now,
    closed: () => clock.closed = true,
  };
  return { socket: new UtpSocket(wire, 100, 101, incoming, limits, seq), sent, clock };
}

Deno.test("uTP timers: the SYN is sent again with backoff and the dial fails after the last try", async () => {
  const { socket, sent, clock } = fakeSocket();
  const connected = socket.connect();
  assert.equal(sent.length, 1);
  assert.equal(sent[0].type, ST_SYN);
  assert.equal(sent[0].connectionId, 100); // a SYN carries the id the answers will carry
  for (const [at, count] of [[999, 1], [1000, 2], [2999, 2], [3000, 3], [7000, 4]] as const) {
    clock.now = at;
    socket.tick(at);
    assert.equal(sent.length, count, `at ${at} ms`);
  }
  for (let t = 7000; t < 200_000; t += 1000) socket.tick(clock.now = t);
  await assert.rejects(connected, /no answer/);
  assert.equal(socket.state, "closed");
  assert.equal(clock.closed, true);
  assert.equal(sent.filter((p) => p.type === ST_SYN).length, 7); // the first and six more
});

Deno.test("uTP timers: unacked data goes again after the timeout, and an ack for data never sent is dropped", async () => {
  const { socket, sent, clock } = fakeSocket();
  const connected = socket.connect();
  socket.receive(packet({ type: ST_STATE, seq: 500, ack: 1, payload: new Uint8Array(0) }), 0);
  await connected;
  socket.write(new Uint8Array(3000));
  const data = sent.filter((p) => p.type === ST_DATA);
  assert.deepEqual(data.map((p) => [p.seq, p.ack, p.connectionId]), [[2, 499, 101], [3, 499, 101], [
    4,
    499,
    101,
  ]]);
  socket.receive(packet({ type: ST_STATE, seq: 500, ack: 9, payload: new Uint8Array(0) }), 10); // never sent
  assert.equal(socket.counts.dropped, 1);
  assert.equal(socket.inFlight > 0, true);
  clock.now = 1000;
  socket.tick(1000);
  const again = sent.filter((p) => p.type === ST_DATA).slice(3);
  assert.deepEqual(again.map((p) => p.seq), [2]); // one packet's window after a timeout
  socket.receive(packet({ type: ST_STATE, seq: 500, ack: 4, payload: new Uint8Array(0) }), 1010);
  assert.equal(socket.inFlight, 0);
});

Deno.test("uTP: three duplicate acks resend the oldest packet; a selective ack resends the gap", async () => {
  const { socket, sent } = fakeSocket();
  const connected = socket.connect();
  socket.receive(packet({ type: ST_STATE, seq: 500, ack: 1, payload: new Uint8Array(0) }), 0);
  await connected;
  socket.write(new Uint8Array(1400 * 4));
  const state = (sack?: Uint8Array) =>
    packet({ type: ST_STATE, seq: 500, ack: 1, sack, payload: new Uint8Array(0) });
  socket.receive(state(), 1);
  socket.receive(state(), 2);
  assert.equal(sent.filter((p) => p.seq === 2 && p.type === ST_DATA).length, 1);
  socket.receive(state(), 3);
  assert.equal(sent.filter((p) => p.seq === 2 && p.type === ST_DATA).length, 2);
  // Packets 3, 4, 5 arrived, 2 again did not: the mask's bits 0-2 name 3, 4, 5.
  socket.receive(state(Uint8Array.of(0b111, 0, 0, 0)), 4);
  assert.equal(sent.filter((p) => p.seq === 2 && p.type === ST_DATA).length, 3);
});

Deno.test("uTP: a transfer whose sequence numbers wrap arrives whole", async () => {
  const pair = utpPair();
  try {
    const client = await pair.a.connect("10.0.0.2", 2);
    const server = await pair.accepted;
    const payload = crypto.getRandomValues(new Uint8Array(65536));
    // 72,000 packets: the sequence numbers pass 65,535 and start again at 0.
    const big = new Uint8Array(1400 * 72_000).map((_, i) => payload[i & 0xffff] ^ (i >> 16));
    const [, got] = await within(60_000, Promise.all([writeAllThenClose(client, big), readToEnd(server)]));
    assert.equal(got.length, big.length);
    assert.deepEqual(got, big);
  } finally {
    pair.close();
  }
});

Deno.test("uTP: both ways at once through a path that loses, duplicates and reorders, bytes equal", async () => {
  const pair = utpPair({ loss: 0.03, duplicate: 0.02, delayMs: 2, jitterMs: 2, mtu: 1500 }, 42);
  try {
    const client = await pair.a.connect("10.0.0.2", 2);
    const server = await pair.accepted;
    const up = randomBytes(300_000);
    const down = randomBytes(200_000);
    // Each side writes, reads all the other sent, then closes.
    const side = async (s: UtpSocket, out: Uint8Array, expect: number) => {
      const [, got] = await Promise.all([s.write(out), readBytes(s, expect)]);
      return got;
    };
    const [gotDown, gotUp] = await within(
      30_000,
      Promise.all([
        side(client, up, down.length),
        side(server, down, up.length),
      ]),
    );
    client.close();
    server.close();
    assert.deepEqual(gotUp, up);
    assert.deepEqual(gotDown, down);
    assert.ok(pair.counts.lost > 0 && pair.counts.duplicated > 0, "the path did lose and duplicate");
    assert.ok(
      pair.counts.largest <= 1500,
      `largest datagram ${pair.counts.largest} bytes fits a 1,500-byte MTU`,
    );
    assert.ok(client.counts.resent > 0);
  } finally {
    pair.close();
  }
});

/** Raw packets to an endpoint, its answers collected. */
function rawEndpoint(options: { maxHalfOpen?: number; maxConnections?: number } = {}) {
  const out: { packet: UtpPacket; host: string }[] = [];
  const accepted: UtpSocket[] = [];
  let now = 0;
  const endpoint = new UtpEndpoint({
    send: (bytes, host) => out.push({ packet: decodePacket(bytes)!, host }),
    onAccept: (s) => accepted.push(s),
    now: () => now,
    tickMs: 0,
    ...options,
  });
  return { endpoint, out, accepted, at: (ms: number) => now = ms };
}

const syn = (id: number) =>
  encodePacket(packet({ type: ST_SYN, connectionId: id, seq: 1, ack: 0, payload: new Uint8Array(0) }));

Deno.test("uTP endpoint: a SYN flood fills the half-open slots and no more; they time out", () => {
  const { endpoint, out, accepted, at } = rawEndpoint({ maxHalfOpen: 8 });
  for (let i = 0; i < 1000; i++) endpoint.receive(syn(i * 2), `10.1.${i >> 8}.${i & 255}`, 5000);
  assert.equal(accepted.length, 8);
  assert.equal(endpoint.size, 8);
  assert.equal(out.filter((o) => o.packet.type === ST_STATE).length, 8);
  assert.equal(endpoint.stats.dropped, 992);
  at(11_000);
  endpoint.tick();
  assert.equal(endpoint.size, 0, "half-open connections are dropped after 10 s");
  endpoint.receive(syn(7), "10.2.0.1", 5000);
  assert.equal(endpoint.size, 1, "and new ones are taken again");
  endpoint.close();
});

Deno.test("uTP endpoint: a repeated SYN gets the same answer; a packet for no connection gets a RESET, at most 20 a second", () => {
  const { endpoint, out, accepted, at } = rawEndpoint();
  endpoint.receive(syn(10), "10.0.0.9", 1);
  endpoint.receive(syn(10), "10.0.0.9", 1);
  assert.equal(accepted.length, 1);
  const answers = out.filter((o) => o.packet.type === ST_STATE);
  assert.equal(answers.length, 2);
  assert.equal(answers[0].packet.seq, answers[1].packet.seq);
  assert.equal(answers[0].packet.connectionId, 10);
  assert.equal(answers[0].packet.ack, 1);
  out.length = 0;
  for (let i = 0; i < 100; i++) endpoint.receive(encodePacket(packet({ connectionId: 999 })), "10.0.0.8", 1);
  assert.equal(out.filter((o) => o.packet.type === ST_RESET).length, 20);
  at(1000);
  endpoint.receive(encodePacket(packet({ connectionId: 999 })), "10.0.0.8", 1);
  assert.equal(out.filter((o) => o.packet.type === ST_RESET).length, 21);
  for (let i = 0; i < 100; i++) {
    endpoint.receive(encodePacket(packet({ type: ST_RESET, connectionId: 998 })), "10.0.0.8", 1);
  }
  assert.equal(out.filter((o) => o.packet.type === ST_RESET).length, 21, "a RESET is never answered");
  assert.equal(endpoint.receive(new TextEncoder().encode("d1:ad2:id20:"), "10.0.0.8", 1), false);
  endpoint.close();
});

Deno.test("uTP: a peer whose window stays shut gets nothing but a probe every 15 s; the writer waits", async () => {
  const { socket, sent, clock } = fakeSocket();
  const connected = socket.connect();
  socket.receive(packet({ type: ST_STATE, seq: 500, ack: 1, window: 0, payload: new Uint8Array(0) }), 0);
  await connected;
  let written = false;
  socket.write(new Uint8Array(100_000)).then(() => written = true);
  const data = () => sent.filter((p) => p.type === ST_DATA).length;
  assert.equal(data(), 0);
  for (let t = 100; t <= 15_000; t += 100) socket.tick(clock.now = t);
  assert.equal(data(), 0, "nothing before the probe");
  socket.tick(clock.now = 15_100);
  assert.equal(data(), 1, "one packet probes the window");
  // The peer acks the probe and says its window is still shut.
  socket.receive(packet({ type: ST_STATE, seq: 500, ack: 2, window: 0, payload: new Uint8Array(0) }), 15_200);
  for (let t = 15_300; t < 30_000; t += 100) socket.tick(clock.now = t);
  assert.equal(data(), 1);
  await Promise.resolve();
  assert.equal(written, false, "the writer is held back: nothing piles up beyond its own bytes");
  assert.equal(socket.state, "connected");
});

Deno.test("uTP endpoint: RESETs with another id, or from another address, leave a connection alone", () => {
  const { endpoint, out, accepted } = rawEndpoint();
  endpoint.receive(syn(10), "10.0.0.9", 1);
  const [socket] = accepted;
  const state = out.find((o) => o.packet.type === ST_STATE)!.packet;
  const reset = (id: number) =>
    encodePacket(
      packet({ type: ST_RESET, connectionId: id, seq: 2, ack: state.seq, payload: new Uint8Array(0) }),
    );
  // Packets to us carry the SYN's id + 1.
  for (let id = 0; id < 65536; id += 7) if (id !== 11) endpoint.receive(reset(id), "10.0.0.9", 1);
  endpoint.receive(reset(11), "10.0.0.66", 1); // the right id from elsewhere
  endpoint.receive(reset(11), "10.0.0.9", 2); // from another port
  assert.equal(socket.state, "syn-recv");
  assert.equal(endpoint.size, 1);
  assert.equal(out.filter((o) => o.packet.type === ST_RESET).length, 0, "a RESET is never answered");
  endpoint.receive(reset(11), "10.0.0.9", 1);
  assert.equal(socket.state, "closed");
  assert.equal(endpoint.size, 0);
  endpoint.close();
});

Deno.test("uTP: a packet resent on duplicate acks is not resent again before a round trip has passed", async () => {
  const { socket, sent, clock } = fakeSocket();
  const connected = socket.connect();
  clock.now = 20;
  socket.receive(packet({ type: ST_STATE, seq: 500, ack: 1, payload: new Uint8Array(0) }), 20); // a 20 ms round trip
  await connected;
  socket.write(new Uint8Array(1400 * 4));
  const sends = () => sent.filter((p) => p.seq === 2 && p.type === ST_DATA).length;
  const dup = (at: number) =>
    socket.receive(packet({ type: ST_STATE, seq: 500, ack: 1, payload: new Uint8Array(0) }), clock.now = at);
  for (const at of [41, 42, 43]) dup(at); // the first three: packet 2 goes again
  assert.equal(sends(), 2);
  for (let at = 44; at < 63; at++) dup(at); // a peer acks every packet it gets past the gap
  assert.equal(sends(), 2, "not again within the round trip");
  for (const at of [64, 65, 66]) dup(at);
  assert.equal(sends(), 3, "a round trip later it may be lost again");
});

Deno.test("uTP: our window shuts as unread data piles up, and the peer hears at once when reading opens it", async () => {
  const { socket, sent } = fakeSocket(false, undefined, { ...DEFAULT_LIMITS, receiveWindow: 4000 });
  const connected = socket.connect();
  socket.receive(packet({ type: ST_STATE, seq: 500, ack: 1, payload: new Uint8Array(0) }), 0);
  await connected;
  for (let i = 0; i < 3; i++) {
    socket.receive(packet({ type: ST_DATA, seq: 500 + i, ack: 1, payload: new Uint8Array(1400) }), 1);
  }
  socket.flushAck();
  assert.equal(sent.at(-1)!.window, 0, "4,200 bytes unread: the window is shut");
  assert.equal(socket.counts.dropped, 0);
  const before = sent.length;
  await socket.read(new Uint8Array(4200));
  await new Promise((r) => setTimeout(r, 0));
  assert.equal(sent.length, before + 1, "an ack went without waiting for another packet");
  assert.equal(sent.at(-1)!.window, 4000);
});
