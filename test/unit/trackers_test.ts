import assert from "node:assert/strict";
import bencode from "bencode";
import { parseScrapeResponse, scrape, scrapeUrl } from "../../src/tracker/http.ts";
import { TrackerTiers } from "../../src/tracker/trackers.ts";

Deno.test("TrackerTiers shuffles within each tier only, and drops unsupported schemes and empty tiers", () => {
  const tiers = [["http://a/announce", "udp://b:1", "http://c/announce"], ["wss://x"], ["udp://d:2"]];
  const orders = new Set<string>();
  for (let seed = 0; seed < 40; seed++) {
    let x = seed + 1;
    const random = () => (x = (x * 48271) % 2147483647) / 2147483647;
    const order = new TrackerTiers(tiers, random).order();
    assert.deepEqual(order.slice(0, 3).sort(), ["http://a/announce", "http://c/announce", "udp://b:1"]);
    assert.equal(order[3], "udp://d:2");
    assert.equal(order.length, 4);
    orders.add(order.join(" "));
  }
  assert(orders.size > 1, "the first tier was shuffled");
});

Deno.test("TrackerTiers moves a tracker that answered to the front of its tier, not of another tier", () => {
  const t = new TrackerTiers(
    [["http://a/announce", "http://b/announce", "http://c/announce"], ["udp://d:1"]],
    () => 0,
  );
  const before = t.order();
  t.answered(before[2]);
  assert.deepEqual(t.order(), [before[2], before[0], before[1], "udp://d:1"]);
  t.answered("udp://d:1");
  assert.equal(t.order()[3], "udp://d:1");
});

Deno.test("scrapeUrl() follows the announce → scrape convention and refuses other paths", () => {
  assert.equal(scrapeUrl("http://t/announce"), "http://t/scrape");
  assert.equal(scrapeUrl("http://t/x/announce.php?passkey=1"), "http://t/x/scrape.php?passkey=1");
  assert.equal(scrapeUrl("http://t/a"), undefined);
  assert.equal(scrapeUrl("http://t/announce/x"), undefined);
});

Deno.test("parseScrapeResponse() reads the counts, and the tracker's failure reason", () => {
  const hash = new Uint8Array(20).fill(0xc3);
  const body = bencode.encode({ files: new Map([[hash, { complete: 4, downloaded: 11, incomplete: 2 }]]) });
  assert.deepEqual(parseScrapeResponse(body), { seeders: 4, completed: 11, leechers: 2 });
  assert.throws(() => parseScrapeResponse(bencode.encode({ files: {} })), /does not know this torrent/);
  assert.throws(() => parseScrapeResponse(bencode.encode({ "failure reason": "no" })), /tracker refused: no/);
});

Deno.test("scrape() asks the scrape URL with the infohash", async () => {
  let query = "";
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    const url = new URL(req.url);
    query = url.pathname + url.search;
    return new Response(bencode.encode({ files: { x: { complete: 1, downloaded: 2, incomplete: 3 } } }));
  });
  try {
    const counts = await scrape(
      `http://127.0.0.1:${server.addr.port}/announce`,
      new Uint8Array(20).fill(0x41),
    );
    assert.deepEqual(counts, { seeders: 1, completed: 2, leechers: 3 });
    assert.equal(query, "/scrape?info_hash=" + "A".repeat(20));
  } finally {
    await server.shutdown();
  }
});
