/**
 * Magnet links and peer exchange between sessions of ours: a magnet download fetches the metadata from a seeder,
 * checks it against the infohash and downloads; a peer that sends metadata of the wrong hash is dropped; and a
 * leecher told of one seeder learns the second one through that seeder's PEX.
 */

import assert from "node:assert/strict";
import { type DownloadSession, startDownload } from "../../actors/client.ts";
import { parseMagnet } from "../../src/metainfo/magnet.ts";
import { type Metainfo } from "../../src/metainfo/metainfo.ts";
import { MemoryStorage, type Storage } from "../../src/storage/storage.ts";
import { testTorrent } from "../helpers/make_torrent.ts";
import { listeningPort, memorySeeder } from "../helpers/sessions.ts";
import { unusedPort } from "../helpers/ports.ts";
import type { AddressBook } from "../../src/swarm/address_book.ts";

function seed(meta: Metainfo, data: Uint8Array, peers: { host: string; port: number }[] = []) {
  return memorySeeder(meta, data, { peers, pexIntervalMs: 200 });
}

const port = listeningPort;

function leech(
  source: Parameters<typeof startDownload>[0],
  peers: { host: string; port: number }[],
  stay = false,
  writesWaitFor?: Promise<void>,
) {
  let storage: MemoryStorage | undefined;
  const session = startDownload(source, {
    seed: stay ? {} : undefined,
    storage: (m) => {
      const memory = storage = new MemoryStorage(m.totalLength);
      // Writes held back until `writesWaitFor`: the download is not over before a peer's PEX comes.
      const held: Storage = {
        write: async (offset, bytes) => (await writesWaitFor, memory.writeSync(offset, bytes)),
        read: (offset, length) => memory.read(offset, length),
        sync: () => memory.sync(),
        close: () => memory.close(),
      };
      return Promise.resolve({ storage: writesWaitFor ? held : memory, existed: false });
    },
    listen: "127.0.0.1",
    port: 0,
    peers,
    noPeersTimeoutMs: 20_000,
    pexIntervalMs: 200,
  });
  return { session, data: () => storage?.data };
}

Deno.test("a magnet link with x.pe fetches the metadata (several ut_metadata pieces) and downloads", async () => {
  // 2,000 pieces of 16 KiB: 40,000 bytes of piece hashes, so the metadata comes in three ut_metadata pieces.
  const { meta, data } = await testTorrent({
    size: 2000 * 16384 - 77,
    pieceLength: 16384,
    seed: 41,
    name: "m.bin",
  });
  assert(meta.rawInfo.length > 2 * 16384);
  const seeder = seed(meta, data);
  try {
    const p = await port(seeder);
    const magnet = parseMagnet(`magnet:?xt=urn:btih:${meta.infoHashHex}&dn=m.bin&x.pe=127.0.0.1:${p}`);
    const states: string[] = [];
    const { session, data: got } = leech(magnet, []);
    session.actor.subscribe((s) => {
      const v = typeof s.value === "string" ? s.value : Object.keys(s.value as object)[0];
      if (states.at(-1) !== v) states.push(v);
    });
    const result = await session.done;
    assert(result.ok, result.error);
    assert.deepEqual(got(), data);
    assert.equal(session.meta!.infoHashHex, meta.infoHashHex);
    assert.deepEqual(session.meta!.rawInfo, meta.rawInfo);
    assert.deepEqual(states.slice(0, 3), ["metadata", "checking", "active"]);
  } finally {
    seeder.stop();
    await seeder.done;
  }
});

Deno.test("a magnet link with no peer that answers fails in one line after the no-peers time", async () => {
  const deadPort = unusedPort();
  const session = startDownload(
    parseMagnet(`magnet:?xt=urn:btih:${"ab".repeat(20)}&x.pe=127.0.0.1:${deadPort}`),
    {
      storage: (m) => Promise.resolve({ storage: new MemoryStorage(m.totalLength), existed: false }),
      listen: false,
      noPeersTimeoutMs: 1500,
    },
  );
  const result = await session.done;
  assert.equal(result.ok, false);
  assert.match(result.error!, /^no peer sent the metadata in 2 s/);
});

/** Waits until the session is connected to `key`, or `ms` passed; returns whether it is. */
async function connectedTo(session: DownloadSession, key: string, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (session.peers().some((p) => p.key === key && p.state.startsWith("connected"))) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}

Deno.test("a leecher told of one seeder learns of the other through PEX and connects to it", async () => {
  const { meta, data } = await testTorrent({
    size: 1024 * 1024,
    pieceLength: 32 * 1024,
    seed: 41,
    name: "p.bin",
  });
  const a = seed(meta, data);
  const aPort = await port(a);
  const b = seed(meta, data, [{ host: "127.0.0.1", port: aPort }]); // b dials a: a knows b's listen address
  const bPort = await port(b);
  assert(await connectedTo(a, `127.0.0.1:${bPort}`, 5000) || await connectedTo(b, `127.0.0.1:${aPort}`, 100));
  let release!: () => void;
  const { session, data: got } = leech(
    meta,
    [{ host: "127.0.0.1", port: aPort }],
    true,
    new Promise<void>((r) => release = r),
  );
  try {
    // b is a seed (PEX says so): a leecher dials it, one that has every piece would not.
    assert(await connectedTo(session, `127.0.0.1:${bPort}`, 10_000), "the leecher never connected to b");
    // Over uTP, b (told of the leecher by a) may dial first, from its listen port: the leecher still hears of b
    // through PEX.
    const book = (session.actor.getSnapshot().context as { book: AddressBook }).book.entries;
    const end = Date.now() + 10_000;
    while (book.get(`127.0.0.1:${bPort}`)?.source !== "pex" && Date.now() < end) {
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(book.get(`127.0.0.1:${bPort}`)?.source, "pex");
    release();
    while (session.progress().verifiedPieces < meta.pieceCount && Date.now() < end + 10_000) {
      await new Promise((r) => setTimeout(r, 50));
    }
    session.stop();
    const result = await session.done;
    assert(result.ok, result.error);
    assert.deepEqual(got(), data);
  } finally {
    release();
    session.stop();
    a.stop();
    b.stop();
    await Promise.all([a.done, b.done, session.done]);
  }
});

Deno.test("a private torrent's peers do not exchange peers", async () => {
  const { meta, data } = await testTorrent({
    size: 1024 * 1024,
    pieceLength: 32 * 1024,
    seed: 41,
    name: "q.bin",
    private: true,
  });
  assert(meta.private);
  const a = seed(meta, data);
  const aPort = await port(a);
  const b = seed(meta, data, [{ host: "127.0.0.1", port: aPort }]);
  const bPort = await port(b);
  assert(await connectedTo(b, `127.0.0.1:${aPort}`, 5000));
  const { session } = leech(meta, [{ host: "127.0.0.1", port: aPort }], true);
  try {
    // Five PEX intervals with a connected to both b and the leecher: a public torrent would have told it by now.
    assert.equal(await connectedTo(session, `127.0.0.1:${bPort}`, 1000), false);
    assert.equal(
      (session.actor.getSnapshot().context as { book: AddressBook }).book.entries.has(`127.0.0.1:${bPort}`),
      false,
    );
  } finally {
    session.stop();
    a.stop();
    b.stop();
    await Promise.all([a.done, b.done, session.done]);
  }
});
