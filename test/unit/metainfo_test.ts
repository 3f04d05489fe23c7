import assert from "node:assert/strict";
import bencode from "bencode";
import { parseMetainfo, pieceSize } from "../../src/metainfo/metainfo.ts";
import { sha1, toHex } from "../../src/common/bytes.ts";
import { goldenView } from "../helpers/golden.ts";

const FIXTURES = new URL("../../fixtures/", import.meta.url).pathname;
const REAL_WORLD = new URL("../../../shared/fixtures/real-world/", import.meta.url).pathname;

for (const name of ["single", "multi"]) {
  Deno.test(`parseMetainfo() matches the golden file of fixtures/${name}.torrent (made by mktorrent)`, async () => {
    const meta = await parseMetainfo(await Deno.readFile(`${FIXTURES}${name}.torrent`));
    const golden = JSON.parse(await Deno.readTextFile(`${FIXTURES}${name}.golden.json`));
    assert.deepEqual(JSON.parse(JSON.stringify(goldenView(meta))), golden);
  });
}

// Reference values from libtorrent 2.0.8 (shared/fixtures/real-world/SOURCES.md).
const REFERENCE: [string, string, string, number, number, number][] = [
  ["alice.torrent", "722fe65b2aa26d14f35b4ad627d20236e481d924", "alice.txt", 1, 163783, 16384],
  [
    "archlinux-2019.12.01-x86_64.iso.torrent",
    "dee86a7fa6f286a9d74c362014616a0ff5e4843d",
    "archlinux-2019.12.01-x86_64.iso",
    1,
    670040064,
    524288,
  ],
  [
    "bunny.torrent",
    "af8f10f30bf9aefecf3686922bfa0d5bd290a395",
    "bbb_sunflower_1080p_30fps_stereo_abl.mp4",
    1,
    434839491,
    524288,
  ],
  ["folder.torrent", "b88da2caac6648e6c7d7687e3f89085f7e230e6b", "folder", 1, 15, 16384],
  [
    "leaves-metadata.torrent",
    "d2474e86c95b19b8bcfdb92bc12c9d44667cfa36",
    "Leaves of Grass by Walt Whitman.epub",
    1,
    362017,
    16384,
  ],
  [
    "leaves.torrent",
    "d2474e86c95b19b8bcfdb92bc12c9d44667cfa36",
    "Leaves of Grass by Walt Whitman.epub",
    1,
    362017,
    16384,
  ],
  ["lots-of-numbers.torrent", "114ead6243792ba56297edbb9a78dfba84d4fc00", "lots-of-numbers", 6, 12, 16384],
  ["numbers.torrent", "89d97c2261a21b040cf11caa661a3ba7233bb7e6", "numbers", 3, 6, 16384],
  [
    "sintel.torrent",
    "c334138ef5bfc2d568ea7324e0e2a3a7ec229bdd",
    "Sintel.2010.4K.DMRip.x264.DD.DTS.SRT-MaLLIeHbKa.mkv",
    1,
    5490455272,
    4194304,
  ],
];
const haveRealWorld = (() => {
  try {
    return Deno.statSync(REAL_WORLD).isDirectory;
  } catch {
    return false;
  }
})();

Deno.test({
  name: "parseMetainfo() agrees with libtorrent on real-world torrents from other encoders",
  ignore: !haveRealWorld,
  async fn() {
    for (const [file, hash, name, files, bytes, pieceLength] of REFERENCE) {
      const m = await parseMetainfo(await Deno.readFile(REAL_WORLD + file));
      assert.deepEqual([m.infoHashHex, m.name, m.files.length, m.totalLength, m.pieceLength], [
        hash,
        name,
        files,
        bytes,
        pieceLength,
      ], file);
    }
    await assert.rejects(
      parseMetainfo(await Deno.readFile(REAL_WORLD + "corrupt.torrent")),
      /missing "info.name"/,
    );
  },
});

Deno.test({
  name: "parseMetainfo() reads the Arch Linux ISO torrent exactly as the Go teaching client's golden file",
  ignore: !haveRealWorld,
  async fn() {
    const m = await parseMetainfo(
      await Deno.readFile(REAL_WORLD + "archlinux-2019.12.01-x86_64.iso.torrent"),
    );
    const golden = JSON.parse(
      await Deno.readTextFile(REAL_WORLD + "archlinux-2019.12.01-x86_64.iso.torrent.golden.json"),
    );
    assert.equal(m.trackers[0][0], golden.Announce);
    assert.equal(m.infoHashHex, toHex(new Uint8Array(golden.InfoHash)));
    assert.equal(m.pieceCount, golden.PieceHashes.length);
    golden.PieceHashes.forEach((h: number[], i: number) =>
      assert.deepEqual(m.pieceHashes.subarray(i * 20, i * 20 + 20), new Uint8Array(h))
    );
    assert.equal(m.pieceLength, golden.PieceLength);
    assert.equal(m.totalLength, golden.Length);
    assert.equal(m.name, golden.Name);
  },
});

Deno.test("parseMetainfo() hashes the raw info bytes, not a re-encoding of non-canonical input", async () => {
  // Keys out of order: a re-encoder would sort them and get another hash.
  const info = "d4:name1:x6:lengthi5e12:piece lengthi16384e6:pieces20:AAAAAAAAAAAAAAAAAAAAe";
  const bytes = new TextEncoder().encode(`d4:info${info}e`);
  const meta = await parseMetainfo(bytes);
  assert.equal(meta.infoHashHex, toHex(await sha1(new TextEncoder().encode(info))));
  assert.notEqual(
    meta.infoHashHex,
    toHex(await sha1(bencode.encode(bencode.decode(new TextEncoder().encode(info))))),
  );
});

function torrent(info: Record<string, unknown>, extra: Record<string, unknown> = {}): Uint8Array {
  return bencode.encode({ announce: "http://t/a", info, ...extra });
}
const HASH20 = new Uint8Array(20);
const good = { name: "f", "piece length": 16384, length: 100, pieces: HASH20 };

const MALFORMED: [string, Uint8Array, RegExp][] = [
  ["not bencode", new TextEncoder().encode("hello"), /not valid bencode/],
  ["trailing garbage", new Uint8Array([...torrent(good), 0x78]), /trailing data/],
  ["truncated", torrent(good).subarray(0, 30), /not valid bencode/],
  ["a list at the top", bencode.encode([1, 2]), /not valid bencode/],
  ["no info", bencode.encode({ announce: "x" }), /missing "info"/],
  ["info not a dictionary", bencode.encode({ info: 5 }), /"info" is not a dictionary/],
  ["missing name", torrent({ ...good, name: undefined }), /missing "info.name"/],
  ["name not bytes", torrent({ ...good, name: 3 }), /"info.name" is not a byte string/],
  ["missing piece length", torrent({ ...good, "piece length": undefined }), /missing "info.piece length"/],
  ["zero piece length", torrent({ ...good, "piece length": 0 }), /must be positive/],
  ["negative piece length", torrent({ ...good, "piece length": -16384 }), /must be positive/],
  [
    "pieces not a multiple of 20",
    torrent({ ...good, pieces: new Uint8Array(47) }),
    /length 47 is not a multiple of 20/,
  ],
  ["too few pieces", torrent({ ...good, length: 16385 }), /1 piece hashes for 16385 bytes .*expected 2/],
  ["too many pieces", torrent({ ...good, pieces: new Uint8Array(40) }), /2 piece hashes for 100 bytes/],
  ["negative length", torrent({ ...good, length: -1 }), /"info.length" is negative/],
  ["string length", torrent({ ...good, length: "100" }), /"info.length" is not an integer/],
  ["length and files", torrent({ ...good, files: [{ length: 1, path: ["a"] }] }), /exactly one of/],
  ["neither length nor files", torrent({ ...good, length: undefined }), /exactly one of/],
  ["empty files", torrent({ ...good, length: undefined, files: [] }), /"info.files" is empty/],
  [
    "file path ..",
    torrent({ ...good, length: undefined, files: [{ length: 100, path: ["..", "etc"] }] }),
    /".." path component/,
  ],
  [
    "absolute path",
    torrent({ ...good, length: undefined, files: [{ length: 100, path: ["", "etc"] }] }),
    /empty path component/,
  ],
  [
    "empty path list",
    torrent({ ...good, length: undefined, files: [{ length: 100, path: [] }] }),
    /path" is empty/,
  ],
  [
    "separator in component",
    torrent({ ...good, length: undefined, files: [{ length: 100, path: ["a/b"] }] }),
    /contains a path separator/,
  ],
  [
    "backslash in component",
    torrent({ ...good, length: undefined, files: [{ length: 100, path: ["a\\b"] }] }),
    /contains a path separator/,
  ],
  [
    "NUL in component",
    torrent({ ...good, length: undefined, files: [{ length: 100, path: ["a\0b"] }] }),
    /NUL byte/,
  ],
  ["name ..", torrent({ ...good, name: ".." }), /".." path component/],
  ["name with separator", torrent({ ...good, name: "../x" }), /path separator/],
  [
    "file without length",
    torrent({ ...good, length: undefined, files: [{ path: ["a"] }] }),
    /missing "info.files\[0\].length"/,
  ],
  [
    "file length negative",
    torrent({ ...good, length: undefined, files: [{ length: -5, path: ["a"] }] }),
    /negative/,
  ],
  [
    "the same file twice",
    torrent({
      ...good,
      length: undefined,
      files: [{ length: 50, path: ["a", "b"] }, { length: 50, path: ["a", "b"] }],
    }),
    /file "a\/b" appears twice/,
  ],
  [
    "files differing only in case",
    torrent({
      ...good,
      length: undefined,
      files: [{ length: 50, path: ["A.txt"] }, { length: 50, path: ["a.txt"] }],
    }),
    /"A.txt" and "a.txt" differ only in case/,
  ],
  [
    "a file that is another's folder",
    torrent({
      ...good,
      length: undefined,
      files: [{ length: 50, path: ["a"] }, { length: 50, path: ["a", "b"] }],
    }),
    /"a" is both a file and a folder/,
  ],
  [
    "a file that is a folder of a folder, named after the folders were seen",
    torrent({
      ...good,
      length: undefined,
      files: [
        { length: 30, path: ["a", "b", "c"] },
        { length: 30, path: ["a", "b", "d"] },
        { length: 40, path: ["A"] },
      ],
    }),
    /"A" is both a file and a folder/,
  ],
  [
    "a file list entry that is not a dictionary",
    torrent({ ...good, length: undefined, files: [{ length: 50, path: ["a"] }, 7] }),
    /"info.files\[1\]" is not a dictionary/,
  ],
  [
    "a path component that is not a byte string",
    torrent({ ...good, length: undefined, files: [{ length: 50, path: ["a", 3] }] }),
    /"info.files\[0\].path\[1\]" is not a byte string/,
  ],
  ["zero total length", torrent({ ...good, length: 0, pieces: new Uint8Array(0) }), /no data/],
  ["integer with leading zero", new TextEncoder().encode("d4:infod6:lengthi05eee"), /leading zero/],
  [
    "huge length",
    new TextEncoder().encode(
      "d4:infod6:lengthi99999999999999999999e4:name1:f12:piece lengthi16384e6:pieces0:ee",
    ),
    /out of range/,
  ],
];

for (const [what, bytes, pattern] of MALFORMED) {
  Deno.test(`parseMetainfo() rejects a torrent with ${what}`, async () => {
    await assert.rejects(parseMetainfo(bytes), (e: Error) => {
      assert(e instanceof SyntaxError, `SyntaxError, got ${e}`);
      assert.match(e.message, /^Cannot parse torrent: /);
      assert.match(e.message, pattern);
      assert(!e.message.includes("\n"), "one line");
      return true;
    });
  });
}

Deno.test("pieceSize() gives the short last piece", () => {
  const m = { pieceLength: 32768, totalLength: 70001 };
  assert.deepEqual([0, 1, 2].map((i) => pieceSize(m, i)), [32768, 32768, 4465]);
});

Deno.test("parseMetainfo() refuses a v2-only torrent (BEP 52) in one line that says so", async () => {
  const v2only = bencode.encode({
    info: {
      name: "v2",
      "piece length": 16384,
      "meta version": 2,
      "file tree": { v2: { "": { length: 5 } } },
    },
  });
  await assert.rejects(
    () => parseMetainfo(v2only),
    (e: Error) =>
      e instanceof SyntaxError && /v2-only torrent \(BEP 52\), which is not supported yet/.test(e.message),
  );
});
