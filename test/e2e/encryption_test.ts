/**
 * Message Stream Encryption between our own clients and against a plaintext-only peer: what each mode lets
 * through, the transport each peer ends up with, and a peer that stalls inside the key exchange.
 */

import assert from "node:assert/strict";
import { type DownloadOptions, startDownload } from "../../actors/client.ts";
import { MemoryStorage } from "../../src/storage/storage.ts";
import { testTorrent } from "../helpers/make_torrent.ts";
import { startSeeder } from "../helpers/scripted_seeder.ts";
import { listeningPort, memorySeeder } from "../helpers/sessions.ts";

const PIECE = 16384;
const { meta, data } = await testTorrent({ size: 40 * PIECE + 99, pieceLength: PIECE, seed: 21 });

/** Downloads from 127.0.0.1:`port` into memory; returns the result, the bytes and how each peer's bytes went. */
async function download(port: number, options: DownloadOptions) {
  const storage = new MemoryStorage(meta.totalLength);
  const transports = new Set<string>();
  const result = await startDownload(meta, {
    storage: () => Promise.resolve({ storage, existed: false }),
    peers: [{ host: "127.0.0.1", port }],
    listen: false,
    noPeersTimeoutMs: 3000,
    // Each peer actor hears how its link's bytes travel as the handshake completes.
    inspect: (e) => {
      const event = "event" in e ? e.event : undefined;
      if (event?.type === "link.handshaken") transports.add(String(event.transport));
    },
    ...options,
  }).done;
  return { result, bytes: storage.data, transports };
}

async function withSeeder(options: DownloadOptions, fn: (port: number) => Promise<void>) {
  const seeder = memorySeeder(meta, data, options);
  try {
    await fn(await listeningPort(seeder));
  } finally {
    seeder.stop();
    await seeder.done;
  }
}

Deno.test("a seeder that requires encryption serves a downloader that prefers it, over RC4", async () => {
  await withSeeder({ encryption: "require" }, async (port) => {
    const { result, bytes, transports } = await download(port, { encryption: "prefer" });
    assert(result.ok, result.error);
    assert.deepEqual(bytes, data);
    assert.deepEqual([...transports], ["rc4"]);
  });
});

Deno.test("two clients that prefer encryption settle on an encrypted handshake and a plaintext payload", async () => {
  await withSeeder({}, async (port) => {
    const { result, bytes, transports } = await download(port, {});
    assert(result.ok, result.error);
    assert.deepEqual(bytes, data);
    assert.deepEqual([...transports], ["obfuscated"], "the default is prefer, both ways");
  });
});

Deno.test("a seeder that requires encryption takes nothing from a plaintext-only downloader", async () => {
  await withSeeder({ encryption: "require" }, async (port) => {
    const { result } = await download(port, { encryption: "off" });
    assert.equal(result.ok, false);
    assert.match(result.error!, /no peer connected/);
  });
});

Deno.test("require takes nothing from a plaintext-only peer; prefer falls back to plaintext with it", async () => {
  const seeder = startSeeder({ infoHash: meta.infoHash, data, pieceLength: PIECE });
  try {
    const strict = await download(seeder.port, { encryption: "require" });
    assert.equal(strict.result.ok, false);
    assert.equal(seeder.served.size, 0, "not one block went to a plaintext connection");
    assert.equal(seeder.seen.length, 0, "it never saw a message of ours");
    const relaxed = await download(seeder.port, { encryption: "prefer" });
    assert(relaxed.result.ok, relaxed.result.error);
    assert.deepEqual(relaxed.bytes, data);
    assert.deepEqual([...relaxed.transports], ["plain"]);
  } finally {
    await seeder.close();
  }
});

Deno.test("a peer that accepts and stalls inside the key exchange is dropped within the handshake time-out", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const held: Deno.Conn[] = [];
  (async () => {
    for await (const c of listener) held.push(c); // reads nothing, answers nothing
  })();
  try {
    const at = Date.now();
    const { result } = await download(listener.addr.port, {
      encryption: "require",
      timeouts: { handshakeMs: 500 },
      noPeersTimeoutMs: 1500,
    });
    assert.equal(result.ok, false);
    const entry = result.book.get(`127.0.0.1:${listener.addr.port}`);
    assert.match(entry?.lastReason ?? "", /handshake timed out/);
    assert.ok(Date.now() - at < 8000);
  } finally {
    listener.close();
    for (const c of held) c.close();
  }
});

Deno.test("a seeder with encryption off refuses an encrypted handshake: a downloader that requires it gets nothing", async () => {
  await withSeeder({ encryption: "off" }, async (port) => {
    const { result } = await download(port, { encryption: "require" });
    assert.equal(result.ok, false);
    assert.match(result.book.get(`127.0.0.1:${port}`)?.lastReason ?? "", /encryption handshake failed/);
  });
});
