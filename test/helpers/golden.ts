/** The golden (JSON) view of a parsed torrent, compared with committed files under fixtures/. */

import { toHex } from "../../src/common/bytes.ts";
import type { Metainfo } from "../../src/metainfo/metainfo.ts";

export function goldenView(m: Metainfo) {
  const hashes = [];
  for (let i = 0; i < m.pieceCount; i++) hashes.push(toHex(m.pieceHashes.subarray(i * 20, i * 20 + 20)));
  return {
    infoHash: m.infoHashHex,
    name: m.name,
    pieceLength: m.pieceLength,
    pieceCount: m.pieceCount,
    totalLength: m.totalLength,
    multiFile: m.multiFile,
    private: m.private,
    trackers: m.trackers,
    files: m.files,
    pieceHashes: hashes,
  };
}

// Regenerate: deno run -A test/helpers/golden.ts fixtures/single.torrent > fixtures/single.golden.json
if (import.meta.main) {
  const { parseMetainfo } = await import("../../src/metainfo/metainfo.ts");
  console.log(JSON.stringify(goldenView(await parseMetainfo(await Deno.readFile(Deno.args[0]))), null, 2));
}
