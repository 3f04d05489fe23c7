/**
 * Our client as a full peer: a seed-only session serves a whole torrent to another session of ours; and with one
 * seeder held to a single upload slot, three leechers of ours exchange pieces among themselves.
 */

import assert from "node:assert/strict";
import { type DownloadSession, startDownload } from "../../actors/client.ts";
import { parseMetainfo } from "../../src/metainfo/metainfo.ts";
import { MemoryStorage } from "../../src/storage/storage.ts";
import { makeTorrent, payload } from "../helpers/make_torrent.ts";

async function torrent(size: number, pieceLength: number) {
  const { torrent, data } = await makeTorrent({
    name: "s.bin",
    files: [{ path: ["s.bin"], data: payload(size, 31) }],
    pieceLength,
  });
  return { meta: await parseMetainfo(torrent), data };
}

function memory(data?: Uint8Array) {
  return (m: { totalLength: number }) => {
    const storage = new MemoryStorage(m.totalLength);
    if (data) storage.data.set(data);
    return Promise.resolve({ storage, existed: data !== undefined });
  };
}

async function port(session: DownloadSession): Promise<number> {
  while (!session.progress().state.startsWith("active")) await new Promise((r) => setTimeout(r, 10));
  return session.progress().port;
}

Deno.test("a seed-only session serves a whole torrent to another session, which finishes with equal bytes", async () => {
  const { meta, data } = await torrent(3 * 1024 * 1024 + 5, 64 * 1024);
  const seeder = startDownload(meta, {
    storage: memory(data),
    seedOnly: true,
    seed: {},
    listen: "127.0.0.1",
    port: 21000,
  });
  try {
    const seederPort = await port(seeder);
    let leecherStorage: MemoryStorage | undefined;
    const leecher = startDownload(meta, {
      storage: (m) => {
        leecherStorage = new MemoryStorage(m.totalLength);
        return Promise.resolve({ storage: leecherStorage, existed: false });
      },
      listen: false,
      peers: [{ host: "127.0.0.1", port: seederPort }],
    });
    const result = await leecher.done;
    assert(result.ok, result.error);
    assert.deepEqual(leecherStorage!.data, data);
    assert(
      seeder.progress().uploadedBytes >= meta.totalLength,
      `uploaded ${seeder.progress().uploadedBytes}`,
    );
    assert.equal(seeder.progress().state, "active.seeding");
  } finally {
    seeder.stop();
    const end = await seeder.done;
    assert(end.ok, "stopping a complete seeder ends as done");
  }
});

Deno.test("a seed-only session refuses incomplete data", async () => {
  const { meta, data } = await torrent(200_000, 16384);
  const broken = data.slice();
  broken[100] ^= 1;
  const result = await startDownload(meta, { storage: memory(broken), seedOnly: true, listen: false }).done;
  assert.equal(result.ok, false);
  assert.equal(
    result.error,
    `cannot seed: only ${meta.pieceCount - 1} of ${meta.pieceCount} pieces are on disk and verified`,
  );
});

Deno.test("three leechers of ours share pieces among themselves when the seeder serves one at a time", async () => {
  const { meta, data } = await torrent(16 * 1024 * 1024, 64 * 1024);
  // No regular slot, only the optimistic one: the seeder feeds one leecher at a time, the others must share.
  const seeder = startDownload(meta, {
    storage: memory(data),
    seedOnly: true,
    listen: "127.0.0.1",
    port: 21100,
    uploadSlots: 0,
  });
  const seederPort = await port(seeder);
  const sources = new Map<number, Map<string, number>>(); // leecher → source key → pieces
  const leechers: DownloadSession[] = [];
  const ports: number[] = [];
  try {
    for (let i = 0; i < 3; i++) {
      const counts = new Map<string, number>();
      sources.set(i, counts);
      const session = startDownload(meta, {
        storage: memory(),
        listen: "127.0.0.1",
        port: 21200 + i * 10,
        seed: { timeMs: 3000 }, // stay a little after completing, to serve the others
        peers: [
          { host: "127.0.0.1", port: seederPort },
          ...ports.map((p) => ({ host: "127.0.0.1", port: p })),
        ],
        inspect(e) {
          if (e.type === "@xstate.event" && e.event.type === "peer.pieces") {
            const { key, pieces } = e.event as unknown as { key: string; pieces: unknown[] };
            counts.set(key, (counts.get(key) ?? 0) + pieces.length);
          }
        },
      });
      leechers.push(session);
      ports.push(await port(session));
    }
    const results = await Promise.all(leechers.map((l) => l.done));
    for (const r of results) assert(r.ok, r.error);
    const fromLeechers = [...sources.values()].map((counts) =>
      [...counts].filter(([key]) => key !== `127.0.0.1:${seederPort}`).reduce((n, [, c]) => n + c, 0)
    );
    console.log(
      `pieces each leecher got from other leechers: ${fromLeechers.join(", ")} of ${meta.pieceCount}`,
    );
    assert(fromLeechers.some((n) => n > 0), "some leecher received pieces from another leecher");
    for (const l of leechers) assert(l.progress().uploadedBytes >= 0);
  } finally {
    seeder.stop();
    await seeder.done;
  }
});
