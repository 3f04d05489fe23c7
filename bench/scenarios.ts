/** The download scenarios of `deno task bench`: what each one downloads, from whom. */

const GiB = 1024 ** 3, MiB = 1024 ** 2, KiB = 1024;

/** One download scenario: the torrent's size and pieces, and the swarm that seeds it. */
export interface Scenario {
  key: string;
  title: string;
  size: number;
  pieceLength: number;
  /** libtorrent sessions seeding besides rtorrent. */
  libtorrentSeeders: number;
  delayMs?: number;
  /** No peers and no tracker: the torrent's only source is a web seed (BEP 19), a local HTTP server. */
  webSeed?: boolean;
  /** The libtorrent seeders force RC4 (MSE) both ways, and there is no rtorrent. */
  forcedRc4?: boolean;
  /** A folder of this many small files (4-60 KiB each, `size` is then their total, roughly), not one file. */
  files?: number;
  /**
   * The libtorrent seeders speak uTP and TCP, and there is no rtorrent; libtorrent leeches over uTP alone, and our
   * client runs twice, as typed (uTP first) and with `--no-utp` (TCP alone).
   */
  utp?: boolean;
  /**
   * Peers each client may connect to at once, when more than its default: ours gets `--max-peers`, aria2c
   * `--bt-max-peers`; libtorrent's own limit is 200 connections.
   */
  maxPeers?: number;
}

export const SCENARIOS: Scenario[] = [
  {
    key: "a",
    title: "1 GiB, 256 KiB pieces, 2 seeders",
    size: GiB,
    pieceLength: 256 * KiB,
    libtorrentSeeders: 1,
  },
  {
    key: "b",
    title: "1 GiB, 4 MiB pieces, 2 seeders",
    size: GiB,
    pieceLength: 4 * MiB,
    libtorrentSeeders: 1,
  },
  {
    key: "c",
    title: "1 GiB, 16 KiB pieces, 2 seeders",
    size: GiB,
    pieceLength: 16 * KiB,
    libtorrentSeeders: 1,
  },
  {
    key: "d",
    title: "256 MiB, 256 KiB pieces, 2 seeders 100 ms away",
    size: 256 * MiB,
    pieceLength: 256 * KiB,
    libtorrentSeeders: 1,
    delayMs: 50,
  },
  {
    key: "e",
    title: "4 GiB, 256 KiB pieces, 2 seeders",
    size: 4 * GiB,
    pieceLength: 256 * KiB,
    libtorrentSeeders: 1,
  },
  {
    key: "f",
    title: "1 GiB, 256 KiB pieces, 21 seeders",
    size: GiB,
    pieceLength: 256 * KiB,
    libtorrentSeeders: 20,
  },
  {
    key: "p",
    title: "1 GiB, 256 KiB pieces, 200 seeders, each client allowed 200 peers",
    size: GiB,
    pieceLength: 256 * KiB,
    libtorrentSeeders: 199,
    maxPeers: 200,
  },
  {
    key: "g",
    title: "1 GiB, 256 KiB pieces, one web seed (HTTP on 127.0.0.1) and no peer",
    size: GiB,
    pieceLength: 256 * KiB,
    libtorrentSeeders: 0,
    webSeed: true,
  },
  {
    key: "i",
    title: "1 GiB, 256 KiB pieces, 2 libtorrent seeders forcing RC4",
    size: GiB,
    pieceLength: 256 * KiB,
    libtorrentSeeders: 2,
    forcedRc4: true,
  },
  {
    key: "k",
    title: "256 MiB, 256 KiB pieces, 2 libtorrent seeders speaking uTP and TCP",
    size: 256 * MiB,
    pieceLength: 256 * KiB,
    libtorrentSeeders: 2,
    utp: true,
  },
  {
    key: "j0",
    title: "320 MiB in one file, 64 KiB pieces, 2 seeders (about j10's size, its pieces, for time per byte)",
    size: 320 * MiB,
    pieceLength: 64 * KiB,
    libtorrentSeeders: 1,
  },
  {
    key: "j2",
    title: "2,000 files of 4-60 KiB (62 MiB), 64 KiB pieces, 2 seeders",
    size: 62 * MiB,
    pieceLength: 64 * KiB,
    libtorrentSeeders: 1,
    files: 2000,
  },
  {
    key: "j10",
    title: "10,000 files of 4-60 KiB (312 MiB), 64 KiB pieces, 2 seeders",
    size: 312 * MiB,
    pieceLength: 64 * KiB,
    libtorrentSeeders: 1,
    files: 10_000,
  },
];
