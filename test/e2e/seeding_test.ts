/**
 * Our client as a full peer: a seed-only session serves a whole torrent to another session of ours; and with one
 * seeder held to a single upload slot, three leechers of ours exchange pieces among themselves.
 */

import assert from "node:assert/strict";
import { type DownloadSession, startDownload } from "../../actors/client.ts";
import { MemoryStorage } from "../../src/storage/storage.ts";
import { testTorrent } from "../helpers/make_torrent.ts";
import { memoryStorage } from "../helpers/storage.ts";
import { listeningPort } from "../helpers/sessions.ts";
import { pieceSize } from "../../src/metainfo/metainfo.ts";

Deno.test("a seed-only session serves a whole torrent to another session, which finishes with equal bytes", async () => {
  const { meta, data } = await testTorrent({
    size: 3 * 1024 * 1024 + 5,
    pieceLength: 64 * 1024,
    seed: 31,
    name: "s.bin",
  });
  const seeder = startDownload(meta, {
    storage: memoryStorage(data).open,
    seedOnly: true,
    seed: {},
    listen: "127.0.0.1",
    port: 21000,
  });
  try {
    const seederPort = await listeningPort(seeder);
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
  const { meta, data } = await testTorrent({ size: 200_000, pieceLength: 16384, seed: 31, name: "s.bin" });
  const broken = data.slice();
  broken[100] ^= 1;
  const result = await startDownload(meta, {
    storage: memoryStorage(broken).open,
    seedOnly: true,
    listen: false,
  }).done;
  assert.equal(result.ok, false);
  assert.equal(
    result.error,
    `cannot seed: only ${meta.pieceCount - 1} of ${meta.pieceCount} pieces are on disk and verified`,
  );
});

Deno.test("three leechers of ours share pieces among themselves when the seeder serves one at a time", async () => {
  const { meta, data } = await testTorrent({
    size: 16 * 1024 * 1024,
    pieceLength: 64 * 1024,
    seed: 31,
    name: "s.bin",
  });
  // No regular slot, only the optimistic one: the seeder feeds one leecher at a time, the others must share.
  const seeder = startDownload(meta, {
    storage: memoryStorage(data).open,
    seedOnly: true,
    listen: "127.0.0.1",
    port: 21100,
    uploadSlots: 0,
  });
  const seederPort = await listeningPort(seeder);
  const sources = new Map<number, Map<string, number>>(); // leecher → source key → pieces
  const leechers: DownloadSession[] = [];
  const ports: number[] = [];
  let fromLeecherBytes = 0; // whole pieces that leechers received from other leechers
  try {
    for (let i = 0; i < 3; i++) {
      const counts = new Map<string, number>();
      sources.set(i, counts);
      const session = startDownload(meta, {
        storage: memoryStorage().open,
        listen: "127.0.0.1",
        port: 21200 + i * 10,
        seed: { timeMs: 3000 }, // stay a little after completing, to serve the others
        peers: [
          { host: "127.0.0.1", port: seederPort },
          ...ports.map((p) => ({ host: "127.0.0.1", port: p })),
        ],
        inspect(e) {
          if (e.type === "@xstate.event" && e.event.type === "peer.pieces") {
            const { key, pieces } = e.event as unknown as { key: string; pieces: { index: number }[] };
            counts.set(key, (counts.get(key) ?? 0) + pieces.length);
            if (key !== `127.0.0.1:${seederPort}`) {
              for (const p of pieces) fromLeecherBytes += pieceSize(meta, p.index);
            }
          }
        },
      });
      leechers.push(session);
      ports.push(await listeningPort(session));
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
    // What leechers received from each other, leechers must have uploaded (payload bytes, counted by the sender).
    const uploadedByLeechers = leechers.reduce((n, l) => n + l.progress().uploadedBytes, 0);
    assert(
      uploadedByLeechers >= fromLeecherBytes,
      `leechers uploaded ${uploadedByLeechers} bytes, yet received ${fromLeecherBytes} from each other`,
    );
  } finally {
    seeder.stop();
    await seeder.done;
  }
});
