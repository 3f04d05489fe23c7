import assert from "node:assert/strict";
import bencode from "bencode";
import {
  announce,
  announceUrl,
  MAX_RESPONSE,
  parseAnnounceResponse,
  percentEncodeBytes,
} from "../../src/tracker/http.ts";
import { unusedPort } from "../helpers/ports.ts";
import { announceParams, trackerActor, type TrackerEvent, trackerStatus } from "../../actors/tracker.ts";
import { createActor, setup } from "xstate";
import { UdpTrackerClient } from "../../src/tracker/udp_client.ts";
import { globalIpv6 } from "../../src/common/peer_address.ts";

const PARAMS = {
  infoHash: new Uint8Array([
    0x12,
    0x34,
    0x56,
    0x78,
    0x9a,
    0xbc,
    0xde,
    0xf1,
    0x23,
    0x45,
    0x67,
    0x89,
    0xab,
    0xcd,
    0xef,
    0x12,
    0x34,
    0x56,
    0x78,
    0x9a,
  ]),
  peerId: new TextEncoder().encode("-AX0100-abc.def_ghi~"),
  port: 6881,
  uploaded: 0,
  downloaded: 100,
  left: 900,
};

Deno.test("percentEncodeBytes() keeps unreserved characters and escapes every other byte", () => {
  assert.equal(
    percentEncodeBytes(new Uint8Array([0x41, 0x7a, 0x30, 0x2d, 0x2e, 0x5f, 0x7e, 0x20, 0x00, 0xff, 0x25])),
    "Az0-._~%20%00%FF%25",
  );
});

Deno.test("announceUrl() encodes the infohash and peer id byte for byte and adds the event", () => {
  const url = announceUrl("http://t.example/announce", { ...PARAMS, event: "started" });
  assert.equal(
    url,
    "http://t.example/announce?info_hash=%124Vx%9A%BC%DE%F1%23Eg%89%AB%CD%EF%124Vx%9A" +
      "&peer_id=-AX0100-abc.def_ghi~&port=6881&uploaded=0&downloaded=100&left=900&compact=1&numwant=80&event=started",
  );
});

Deno.test("announceUrl() tells our global IPv6 address as ipv6= (BEP 7) when we have one, and nothing otherwise", () => {
  const subject = { infoHash: PARAMS.infoHash, peerId: PARAMS.peerId, port: 6881 };
  const url = new URL(announceUrl("http://t/announce", announceParams(subject, "2001:db8::7")));
  assert.equal(url.searchParams.get("ipv6"), "2001:db8::7");
  assert.match(url.search, /&ipv6=2001%3Adb8%3A%3A7$/);
  assert.equal(
    new URL(announceUrl("http://t/announce", announceParams(subject))).searchParams.has("ipv6"),
    false,
  );
});

Deno.test("globalIpv6() picks a global unicast address, never loopback, link-local, unique-local or IPv4", () => {
  const lo = { family: "IPv6", address: "::1" }, v4 = { family: "IPv4", address: "192.0.2.1" };
  const link = { family: "IPv6", address: "fe80::fc:ff:fe00:1" },
    ula = { family: "IPv6", address: "fd00::2" };
  assert.equal(globalIpv6([lo, v4, link, ula]), undefined);
  assert.equal(globalIpv6([lo, ula, { family: "IPv6", address: "2a01:4f8::1" }]), "2a01:4f8::1");
  assert.equal(globalIpv6([{ family: "IPv6", address: "3fff::5" }]), "3fff::5");
  assert.equal(globalIpv6([]), undefined);
});

Deno.test("announceUrl() keeps a query the tracker URL already has", () => {
  assert.match(
    announceUrl("http://t/announce?passkey=abc", PARAMS),
    /^http:\/\/t\/announce\?passkey=abc&info_hash=/,
  );
});

Deno.test("parseAnnounceResponse() reads compact IPv4 peers and peers6", () => {
  const res = parseAnnounceResponse(bencode.encode({
    interval: 900,
    "min interval": 60,
    peers: new Uint8Array([127, 0, 0, 1, 0x1a, 0xe1, 10, 1, 2, 3, 0, 80]),
    peers6: new Uint8Array([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0x1a, 0xe2]),
    complete: 3,
    incomplete: 4,
  }));
  assert.deepEqual(res.peers, [
    { host: "127.0.0.1", port: 6881 },
    { host: "10.1.2.3", port: 80 },
    { host: "0:0:0:0:0:0:0:1", port: 6882 },
  ]);
  assert.equal(res.interval, 900);
  assert.equal(res.minInterval, 60);
  assert.equal(res.complete, 3);
  assert.equal(res.incomplete, 4);
});

Deno.test("parseAnnounceResponse() reads a dictionary peer list and a warning", () => {
  const res = parseAnnounceResponse(bencode.encode({
    interval: 1800,
    "warning message": "be nice",
    peers: [{ ip: "127.0.0.2", port: 7000, "peer id": "x".repeat(20) }, { ip: "::1", port: 7001 }, {
      port: 1,
    }],
  }));
  assert.deepEqual(res.peers, [{ host: "127.0.0.2", port: 7000 }, { host: "::1", port: 7001 }]);
  assert.equal(res.warning, "be nice");
});

Deno.test("parseAnnounceResponse() turns a failure reason into an error with the tracker's words", () => {
  assert.throws(
    () => parseAnnounceResponse(bencode.encode({ "failure reason": "Requested download is not authorized" })),
    /tracker refused: Requested download is not authorized/,
  );
});

Deno.test("parseAnnounceResponse() rejects a body that is not bencode", () => {
  assert.throws(
    () => parseAnnounceResponse(new TextEncoder().encode("<html>Bad Gateway</html>")),
    SyntaxError,
  );
  assert.throws(
    () => parseAnnounceResponse(new TextEncoder().encode("Invalid Request")),
    /not bencode: "Invalid Request"/,
  );
});

async function withServer(
  handler: (req: Request) => Response | Promise<Response>,
  fn: (url: string) => Promise<void>,
) {
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, handler);
  try {
    await fn(`http://127.0.0.1:${server.addr.port}/announce`);
  } finally {
    await server.shutdown();
  }
}

Deno.test("announce() sends the query and returns the peers", async () => {
  let seen = "";
  await withServer((req) => {
    seen = new URL(req.url).search;
    return new Response(bencode.encode({ interval: 60, peers: new Uint8Array([127, 0, 0, 1, 0, 99]) }));
  }, async (url) => {
    const res = await announce(url, { ...PARAMS, event: "completed" });
    assert.deepEqual(res.peers, [{ host: "127.0.0.1", port: 99 }]);
  });
  assert.match(seen, /event=completed/);
  assert.match(seen, /left=900/);
});

Deno.test("announce() reports an HTTP error status", async () => {
  await withServer(() => new Response("oops", { status: 503 }), async (url) => {
    await assert.rejects(announce(url, PARAMS), /answered HTTP 503/);
  });
});

Deno.test("announce() gives up after its time-out", async () => {
  let release!: () => void;
  const hang = new Promise<void>((r) => release = r);
  await withServer(async () => {
    await hang;
    return new Response("late");
  }, async (url) => {
    await assert.rejects(announce(url, PARAMS, 200), /unreachable: no answer in 0.2 s/);
    release();
  });
});

Deno.test("announce() reports a refused connection", async () => {
  const port = unusedPort();
  await assert.rejects(announce(`http://127.0.0.1:${port}/announce`, PARAMS), /unreachable/);
});

Deno.test("announce() refuses an answer larger than its limit", async () => {
  await withServer(() => new Response(new Uint8Array(MAX_RESPONSE + 1)), async (url) => {
    await assert.rejects(announce(url, PARAMS), /sent more than 2097152 bytes/);
  });
});

Deno.test("the tracker actor of a torrent with no tracker it can ask says so once, and not that it retries", async () => {
  const events: TrackerEvent[] = [];
  const parent = createActor(
    setup({ actors: { tracker: trackerActor } }).createMachine({
      invoke: {
        src: "tracker",
        input: {
          trackers: [["wss://tracker.example/announce"]],
          setup: {
            options: { udp: new UdpTrackerClient(), timeoutMs: 1000 },
            announced: new Set(),
            retryMs: 10,
          },
          subject: { infoHash: new Uint8Array(20), peerId: new Uint8Array(20), port: 6881 },
        },
      },
      on: { "*": { actions: ({ event }) => events.push(event as TrackerEvent) } },
    }),
  );
  parent.start();
  await new Promise((r) => setTimeout(r, 50)); // past several retry delays, were there any
  parent.stop();
  assert.equal(events.length, 1);
  assert.equal(trackerStatus(events[0]), "no tracker with a supported scheme");
  assert.equal(
    trackerStatus({ type: "tracker.error", message: "connection refused" }),
    "error: connection refused (retrying)",
  );
});
