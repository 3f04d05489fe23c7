/**
 * uTP between sessions of ours over real UDP sockets: through a relay that loses, duplicates, delays and reorders
 * packets (the relay's port has no TCP listener, so only uTP can get through); with uTP off nothing gets through;
 * and a peer without uTP is still reached, over TCP.
 */

import assert from "node:assert/strict";
import { type DownloadOptions, type DownloadSession, startDownload } from "../../actors/client.ts";
import type { Metainfo } from "../../src/metainfo/metainfo.ts";
import { MemoryStorage } from "../../src/storage/storage.ts";
import { testTorrent } from "../helpers/make_torrent.ts";
import { listeningPort, memorySeeder } from "../helpers/sessions.ts";
import { udpRelay } from "../helpers/udp_relay.ts";

/** Downloads `meta` from `port` into memory; which carriers its peers used, seen while it ran. */
function leech(meta: Metainfo, port: number, options: DownloadOptions = {}) {
  const storage = new MemoryStorage(meta.totalLength);
  const carriers = new Set<string>();
  const session: DownloadSession = startDownload(meta, {
    storage: () => Promise.resolve({ storage, existed: false }),
    listen: "127.0.0.1",
    port: 0,
    peers: [{ host: "127.0.0.1", port }],
    noPeersTimeoutMs: 20_000,
    // Each peer actor's snapshot says what carries its bytes once it is handshaken.
    inspect: (e) => {
      const via = (e as { snapshot?: { context?: { via?: string } } }).snapshot?.context?.via;
      if (via) carriers.add(via);
    },
    ...options,
  });
  return { session, done: session.done, storage, carriers };
}

/** Waits for a download and checks it: it finished, every byte is `data`, and its peers all used `carrier`. */
async function assertWhole(run: ReturnType<typeof leech>, data: Uint8Array, carrier: string, label = "") {
  const result = await run.done;
  assert(result.ok, `${label}${label && ": "}${result.error}`);
  assert.deepEqual(run.storage.data, data, label);
  assert.deepEqual([...run.carriers], [carrier], label);
}

Deno.test("uTP: a download through a relay that loses 3%, duplicates and reorders arrives whole", async () => {
  const { meta, data } = await testTorrent({ size: 3 * 1024 * 1024 + 77, pieceLength: 64 * 1024, seed: 29 });
  const seeder = memorySeeder(meta, data);
  const relay = await udpRelay(await listeningPort(seeder), {
    loss: 0.03,
    duplicate: 0.01,
    delayMs: 2,
    jitterMs: 3,
  });
  try {
    await assertWhole(leech(meta, relay.port), data, "utp");
    assert(relay.counts.lost > 0 && relay.counts.duplicated > 0, "the relay did lose and duplicate packets");
  } finally {
    relay.close();
    seeder.stop();
    await seeder.done;
  }
});

Deno.test("uTP: with uTP off (--no-utp) the relay's port is not reached; a peer without uTP is reached over TCP", async () => {
  const { meta, data } = await testTorrent({ size: 256 * 1024, pieceLength: 32 * 1024, seed: 30 });
  const seeder = memorySeeder(meta, data, { utp: false });
  const relay = await udpRelay(await listeningPort(seeder));
  try {
    const off = leech(meta, relay.port, { utp: false, noPeersTimeoutMs: 1500 });
    const offResult = await off.done;
    assert.equal(offResult.ok, false);
    assert.match(offResult.error!, /no peer/);
    assert.equal(relay.counts.relayed, 0, "not one packet went to the relay");
    // The seeder answers no uTP either (its UDP port is the relay's target): the leecher falls back to TCP.
    await assertWhole(leech(meta, await listeningPort(seeder)), data, "tcp");
  } finally {
    relay.close();
    seeder.stop();
    await seeder.done;
  }
});

Deno.test("uTP: a default seeder (both families) is reached over uTP on ::1 and on 127.0.0.1", async () => {
  const { meta, data } = await testTorrent({ size: 512 * 1024, pieceLength: 32 * 1024, seed: 31 });
  const seeder = memorySeeder(meta, data, { listen: undefined });
  try {
    const port = await listeningPort(seeder);
    for (const host of ["::1", "127.0.0.1"]) {
      await assertWhole(leech(meta, port, { peers: [{ host, port }], listen: host }), data, "utp", host);
    }
  } finally {
    seeder.stop();
    await seeder.done;
  }
});
