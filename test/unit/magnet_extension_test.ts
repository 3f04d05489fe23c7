import assert from "node:assert/strict";
import bencode from "bencode";
import { sha1, toHex } from "../../src/common/bytes.ts";
import {
  decodeExtHandshake,
  decodeMetadataMessage,
  decodePex,
  encodeExtHandshake,
  encodeMetadataMessage,
  encodePex,
  metadataPieceLength,
  metadataPieces,
} from "../../src/wire/extension.ts";
import { makeMagnet, parseMagnet, torrentFromMetadata } from "../../src/metainfo/magnet.ts";
import { parseMetainfo } from "../../src/metainfo/metainfo.ts";
import { makeTorrent, payload } from "../helpers/make_torrent.ts";

const HEX = "c12fe1c06bba254a9dc9f519b335aa7c1367a88a";

Deno.test("parseMagnet() reads hex and base32 infohashes, dn, every tr, x.pe and so", () => {
  const m = parseMagnet(
    `magnet:?xt=urn:btih:${HEX.toUpperCase()}&dn=Big+Buck%20Bunny&tr=udp%3A%2F%2Ft1%3A80&tr=http://t2/announce` +
      `&tr=wss://t3&x.pe=127.0.0.1:6881&x.pe=[::1]:51413&x.pe=nonsense&so=0,2-4`,
  );
  assert.equal(m.infoHashHex, HEX);
  assert.equal(m.name, "Big Buck Bunny");
  assert.deepEqual(m.trackers, [["udp://t1:80"], ["http://t2/announce"]]);
  assert.deepEqual(m.peers, [{ host: "127.0.0.1", port: 6881 }, { host: "::1", port: 51413 }]);
  assert.deepEqual(m.selectOnly, [0, 2, 3, 4]);
  // The same infohash in base32 (RFC 4648, as magnet links write it).
  assert.equal(parseMagnet("magnet:?xt=urn:btih:YEX6DQDLXISUVHOJ6UM3GNNKPQJWPKEK").infoHashHex, HEX);
  assert.equal(parseMagnet(makeMagnet(HEX, "a b", [["udp://x:1"]])).name, "a b");
});

Deno.test("parseMagnet() refuses links without a usable infohash in one line", () => {
  for (
    const bad of [
      "http://example.com",
      "magnet:?dn=x",
      "magnet:?xt=urn:btmh:1220abcd",
      `magnet:?xt=urn:btih:${HEX.slice(2)}`,
      `magnet:?xt=urn:btih:${HEX}&so=3-1`,
    ]
  ) {
    assert.throws(
      () => parseMagnet(bad),
      (e: Error) =>
        e instanceof SyntaxError && /^Cannot parse magnet link: /.test(e.message) &&
        !e.message.includes("\n"),
    );
  }
});

Deno.test("torrentFromMetadata() keeps the info dictionary byte for byte, so the infohash holds", async () => {
  const { torrent } = await makeTorrent({
    name: "x.bin",
    files: [{ path: ["x.bin"], data: payload(100_000) }],
    pieceLength: 16384,
  });
  const meta = await parseMetainfo(torrent);
  const rebuilt = await parseMetainfo(
    torrentFromMetadata(meta.rawInfo, [["udp://t:1"], ["http://u/announce"]]),
  );
  assert.equal(rebuilt.infoHashHex, meta.infoHashHex);
  assert.equal(toHex(await sha1(meta.rawInfo)), meta.infoHashHex);
  assert.deepEqual(rebuilt.trackers, [["udp://t:1"], ["http://u/announce"]]);
  assert.equal((await parseMetainfo(torrentFromMetadata(meta.rawInfo, []))).infoHashHex, meta.infoHashHex);
});

Deno.test("a magnet link's ws= web seeds (BEP 19) come into the torrent built from its metadata", async () => {
  const { torrent } = await makeTorrent({
    name: "x.bin",
    files: [{ path: ["x.bin"], data: payload(20_000) }],
    pieceLength: 16384,
  });
  const meta = await parseMetainfo(torrent);
  const magnet = parseMagnet(
    `magnet:?xt=urn:btih:${meta.infoHashHex}&ws=${
      encodeURIComponent("http://w/x.bin")
    }&ws=ftp%3A%2F%2Fno&tr=udp%3A%2F%2Ft%3A1`,
  );
  assert.deepEqual(magnet.webSeeds, ["http://w/x.bin"]);
  const rebuilt = await parseMetainfo(torrentFromMetadata(meta.rawInfo, magnet.trackers, magnet.webSeeds));
  assert.equal(rebuilt.infoHashHex, meta.infoHashHex);
  assert.deepEqual(rebuilt.webSeeds, ["http://w/x.bin"]);
  assert.deepEqual(rebuilt.trackers, [["udp://t:1"]]);
});

Deno.test("extension handshake: encodes ours, reads a peer's and ignores fields of the wrong type", () => {
  const ours = encodeExtHandshake({
    m: { ut_metadata: 1, ut_pex: 2 },
    metadataSize: 31235,
    port: 6881,
    reqq: 500,
  });
  assert.deepEqual(decodeExtHandshake(ours), {
    m: { ut_metadata: 1, ut_pex: 2 },
    metadataSize: 31235,
    port: 6881,
    client: undefined,
    reqq: 500,
  });
  const odd = bencode.encode({
    m: { ut_metadata: "3", lt_donthave: 7, x: 300 },
    metadata_size: -5,
    v: "lt 2.0",
  });
  assert.deepEqual(decodeExtHandshake(odd), {
    m: { lt_donthave: 7 },
    metadataSize: undefined,
    port: undefined,
    client: "lt 2.0",
    reqq: undefined,
  });
  assert.throws(() => decodeExtHandshake(new TextEncoder().encode("i5e")), SyntaxError);
});

Deno.test("ut_metadata messages round-trip, data keeps its trailing bytes, and bad ones throw", () => {
  const data = payload(1000);
  for (
    const msg of [
      { kind: "request" as const, piece: 3 },
      { kind: "reject" as const, piece: 0 },
      { kind: "data" as const, piece: 1, totalSize: 17384, data },
    ]
  ) {
    assert.deepEqual(decodeMetadataMessage(encodeMetadataMessage(msg)), msg);
  }
  assert.throws(
    () => decodeMetadataMessage(new TextEncoder().encode("d8:msg_typei7e5:piecei0ee")),
    SyntaxError,
  );
  assert.throws(
    () => decodeMetadataMessage(new TextEncoder().encode("d8:msg_typei1e5:piecei0ee")),
    /total_size/,
  );
  assert.throws(() => decodeMetadataMessage(new TextEncoder().encode("d8:msg_ty")), SyntaxError);
  assert.equal(metadataPieces(16384), 1);
  assert.equal(metadataPieces(16385), 2);
  assert.equal(metadataPieceLength(16385, 1), 1);
});

Deno.test("ut_pex messages carry IPv4 and IPv6 peers and at most 50 of each kind", () => {
  const added = Array.from({ length: 60 }, (_, i) => ({ host: `10.0.0.${i}`, port: 1000 + i }));
  const back = decodePex(
    encodePex({ added: [{ host: "0:0:0:0:0:0:0:1", port: 9 }, ...added], dropped: added.slice(0, 2) }),
  );
  assert.equal(back.added.length, 50);
  assert.deepEqual(back.added.at(-1), { host: "0:0:0:0:0:0:0:1", port: 9 });
  assert.deepEqual(back.dropped, added.slice(0, 2));
  assert.deepEqual(decodePex(encodePex({ added: [{ host: "::1", port: 7 }], dropped: [] })).added, [
    { host: "0:0:0:0:0:0:0:1", port: 7 },
  ]);
});

Deno.test("ut_pex flags seeds (0x02) in added.f and added6.f, each flag beside its own peer", () => {
  const added = [
    { host: "10.0.0.1", port: 1, seed: true },
    { host: "::1", port: 2, seed: true },
    { host: "10.0.0.3", port: 3 },
  ];
  const payload = encodePex({ added, dropped: [] });
  const text = new TextDecoder("latin1").decode(payload);
  assert(text.includes("7:added.f2:\u0002\u0000"));
  assert(text.includes("8:added6.f1:\u0002"));
  assert.deepEqual(decodePex(payload).added, [
    { host: "10.0.0.1", port: 1, seed: true },
    { host: "10.0.0.3", port: 3 },
    { host: "0:0:0:0:0:0:0:1", port: 2, seed: true },
  ]);
  // A flag stays with its peer when an entry before it (port 0) is left out.
  const zeroFirst = bencode.encode({
    added: new Uint8Array([10, 0, 0, 9, 0, 0, 10, 0, 0, 5, 0, 5]),
    "added.f": new Uint8Array([0, 2]),
  });
  assert.deepEqual(decodePex(zeroFirst).added, [{ host: "10.0.0.5", port: 5, seed: true }]);
});

Deno.test("parseMagnet() takes a hybrid link's btih beside its btmh, and says a btmh-only link is v2-only", () => {
  const hybrid = parseMagnet(`magnet:?xt=urn:btmh:1220${"ab".repeat(32)}&xt=urn:btih:${HEX}`);
  assert.equal(hybrid.infoHashHex, HEX);
  assert.throws(
    () => parseMagnet(`magnet:?xt=urn:btmh:1220${"ab".repeat(32)}`),
    /^SyntaxError: Cannot parse magnet link: it is a v2-only link \(urn:btmh, BEP 52\)/,
  );
});
