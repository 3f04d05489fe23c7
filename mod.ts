/**
 * A BitTorrent client for Deno built as XState actors: a supervisor per torrent, a coordinator that owns the
 * pieces, one actor per peer. Run it as a CLI (`deno run -A mod.ts file.torrent out`) or embed it:
 *
 * @example
 * ```ts
 * import { parseMetainfo, startDownload } from "./mod.ts";
 * const meta = await parseMetainfo(await Deno.readFile("file.torrent"));
 * const session = startDownload(meta, { out: "downloads/" + meta.name });
 * const result = await session.done;
 * console.log(result.ok ? "verified" : result.error);
 * ```
 *
 * @module
 */

export { parseMetainfo, pieceSize } from "./src/metainfo/metainfo.ts";
export type { FileEntry, Metainfo } from "./src/metainfo/metainfo.ts";
export { parseMagnet } from "./src/metainfo/magnet.ts";
export type { Magnet } from "./src/metainfo/magnet.ts";
export { FileStorage, MemoryStorage } from "./src/storage/storage.ts";
export type { Storage } from "./src/storage/storage.ts";
export type { ResumeStore } from "./src/storage/resume.ts";
export { announce, announceUrl, parseAnnounceResponse } from "./src/tracker/http.ts";
export type { PeerAddress } from "./src/common/peer_address.ts";
export type { AnnounceParams, AnnounceResponse } from "./src/tracker/types.ts";
export { decodeHandshake, decodeMessage, encodeHandshake, encodeMessage } from "./src/wire/wire.ts";
export type { Handshake, Message } from "./src/wire/wire.ts";
export type { AddressEntry, PeerSource } from "./src/swarm/address_book.ts";
export type { DhtSample, PeerSample, Sample } from "./src/ui/trace.ts";
export { Bitfield } from "./src/common/bitfield.ts";
export { DownloadSession, makePeerId, startDownload } from "./actors/client.ts";
export type {
  DownloadOptions,
  DownloadResult,
  Inspection,
  PeerView,
  Progress,
  TorrentActor,
} from "./actors/client.ts";
export type { Stats } from "./actors/coordinator.ts";
export type { PeerTimeouts } from "./actors/peer.ts";
export type { DhtOptions } from "./actors/dht.ts";
export type { WebSeedOptions } from "./actors/web_seed.ts";
export type { SavedNodes } from "./src/dht/saved_nodes.ts";
export type { NodeInfo } from "./src/dht/krpc.ts";
export type { EncryptionMode, Transport } from "./src/peer/connection.ts";

if (import.meta.main) {
  const { main } = await import("./cli/main.ts");
  Deno.exit(await main(Deno.args));
}
