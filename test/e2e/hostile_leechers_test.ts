/**
 * Seeding through hostile leechers: our `seed` (the CLI, a process of its own, so its memory is its own) keeps
 * serving an honest leecher while a flood of silent connections is on, and while peers that request everything
 * never read what we send; the seeder's peak RSS stays under 100 MiB. Connect-and-close churn leaves no actor.
 */

import assert from "node:assert/strict";
import { encodeHandshake, encodeMessage } from "../../src/wire/wire.ts";
import { downloadFrom, startCliSeeder } from "../helpers/cli_seeder.ts";
import { testTorrent } from "../helpers/make_torrent.ts";
import { listeningPort, memorySeeder } from "../helpers/sessions.ts";
import { closeAll } from "../helpers/ports.ts";

const PIECE = 256 * 1024;
const { meta, torrent, data } = await testTorrent({ size: 8 * 1024 * 1024, pieceLength: PIECE, seed: 31 });

/** Our seeder as a process, serving `data`. */
const startSeed = (dir: string, extra: string[] = []) =>
  startCliSeeder(dir, torrent, data, meta.infoHash, extra);
type Seed = Awaited<ReturnType<typeof startSeed>>;

/** True when the other side closes `conn` within `ms` (whatever it sent first). */
async function closedWithin(conn: Deno.Conn, ms: number): Promise<boolean> {
  let timedOut = false;
  const timer = setTimeout(() => (timedOut = true, conn.close()), ms);
  const buf = new Uint8Array(64 * 1024);
  try {
    while (await conn.read(buf) !== null) { /* what it sends before closing */ }
  } catch { /* closed by the timer */ }
  clearTimeout(timer);
  return !timedOut;
}

/** An honest leecher gets every byte, and the seeder process never passed 100 MiB. */
async function honestServedUnder100MiB(seed: { port: number; peakMiB(): Promise<number> }) {
  const started = performance.now();
  const { result, bytes } = await honestDownload(seed.port);
  const seconds = (performance.now() - started) / 1000;
  assert(result.ok, result.error);
  assert.deepEqual(bytes, data);
  const peak = await seed.peakMiB();
  console.log(`honest leecher: 8 MiB in ${seconds.toFixed(2)} s; seeder peak ${peak.toFixed(1)} MiB`);
  assert.ok(peak < 100, `seeder peak ${peak} MiB`);
}

/**
 * A test against our seeder process: `body` opens hostile connections (kept in `conns`); afterwards they are
 * closed (some the seeder closed already), the seeder is stopped by its PID and its folder removed.
 */
function hostileTest(name: string, body: (seed: Seed, conns: Deno.Conn[]) => Promise<void>) {
  Deno.test({
    name,
    sanitizeResources: false,
    sanitizeOps: false,
    async fn() {
      const dir = await Deno.makeTempDir();
      const seed = await startSeed(dir);
      const conns: Deno.Conn[] = [];
      try {
        await body(seed, conns);
      } finally {
        closeAll(conns); // some the seeder closed already
        await seed.stop();
        await Deno.remove(dir, { recursive: true });
      }
    },
  });
}

/** An honest leecher (our client, in this process) that gives up when no peer is connected for 5 s. */
const honestDownload = (port: number) => downloadFrom(meta, port);

hostileTest(
  "a flood of 300 silent connections does not keep an honest leecher out, nor swell the seeder",
  async (seed, silent) => {
    for (let i = 0; i < 300; i++) {
      const c = await Deno.connect({ hostname: "127.0.0.1", port: seed.port }).catch(() => null);
      if (c) silent.push(c);
    }
    // Handshakes take 10 s to time out: an honest peer that had to wait for them would give up at 5 s.
    await honestServedUnder100MiB(seed);
  },
);

hostileTest(
  "a burst of 20 honest leechers dialling at once: none is closed as half-open while its handshake is on its way",
  async (seed, honest) => {
    // Sent all at once, as a popular torrent's leechers do after an announce: each handshake is on the wire at
    // once, but the seeder reads them one after another.
    for (let i = 0; i < 20; i++) {
      const c = await Deno.connect({ hostname: "127.0.0.1", port: seed.port });
      honest.push(c);
      c.write(encodeHandshake(meta.infoHash, crypto.getRandomValues(new Uint8Array(20)))).catch(() => {});
    }
    const closed = await Promise.all(honest.map((c) => closedWithin(c, 3000)));
    assert.equal(closed.filter((x) => x).length, 0, "the seeder kept every one");
  },
);

hostileTest(
  "peers that request everything and never read are dropped; an honest leecher is served and memory stays low",
  async (seed, greedy) => {
    // Each one asks for every block, twice, then never reads again: what we send piles up in its socket.
    const requests: Uint8Array[] = [encodeMessage({ type: "interested" })];
    for (let round = 0; round < 2; round++) {
      for (let i = 0; i < meta.pieceCount; i++) {
        for (let b = 0; b < PIECE; b += 16384) {
          requests.push(encodeMessage({ type: "request", index: i, begin: b, length: 16384 }));
        }
      }
    }
    const flood = new Uint8Array(requests.reduce((n, r) => n + r.length, 0));
    requests.reduce((at, r) => (flood.set(r, at), at + r.length), 0);
    for (let i = 0; i < 20; i++) {
      const c = await Deno.connect({ hostname: "127.0.0.1", port: seed.port });
      greedy.push(c);
      await c.write(encodeHandshake(meta.infoHash, crypto.getRandomValues(new Uint8Array(20))));
      c.write(flood).catch(() => {});
    }
    await honestServedUnder100MiB(seed);
  },
);

hostileTest(
  "peers sending oversized, out-of-range and garbage requests are dropped; an honest leecher is served",
  async (seed, bad) => {
    const garbage = [
      encodeMessage({ type: "request", index: 0, begin: 0, length: 1 << 20 }), // over 16 KiB
      encodeMessage({ type: "request", index: 99_999, begin: 0, length: 16384 }), // no such piece
      encodeMessage({ type: "request", index: 0, begin: PIECE - 10, length: 16384 }), // past the piece's end
      Uint8Array.of(0x7f, 0xff, 0xff, 0xff, 1, 2, 3), // a frame of 2 GiB announced
    ];
    const closedBySeeder: Promise<boolean>[] = [];
    for (let i = 0; i < 40; i++) {
      const c = await Deno.connect({ hostname: "127.0.0.1", port: seed.port });
      bad.push(c);
      await c.write(encodeHandshake(meta.infoHash, crypto.getRandomValues(new Uint8Array(20))));
      await c.write(encodeMessage({ type: "interested" }));
      await c.write(garbage[i % garbage.length]).catch(() => {});
      closedBySeeder.push(closedWithin(c, 10_000));
    }
    assert.deepEqual(
      await Promise.all(closedBySeeder),
      Array(40).fill(true),
      "the seeder closed every one",
    );
    await honestServedUnder100MiB(seed);
  },
);

Deno.test("connections that never speak get no peer actor; one that sends its handshake does", async () => {
  const seeder = memorySeeder(meta, data);
  const silent: Deno.Conn[] = [];
  try {
    const port = await listeningPort(seeder);
    for (let i = 0; i < 100; i++) silent.push(await Deno.connect({ hostname: "127.0.0.1", port }));
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(seeder.peers().length, 0, "no actor for a silent connection");
    assert.equal(
      seeder.progress().silentClosed,
      100 - 64,
      "the ones past the 64 held were closed, and counted",
    );
    const last = silent[silent.length - 1];
    await last.write(encodeHandshake(meta.infoHash, new Uint8Array(20).fill(9)));
    let peers = 0;
    for (let t = 0; t < 100 && peers === 0; t++) {
      await new Promise((r) => setTimeout(r, 20));
      peers = seeder.peers().length;
    }
    assert.equal(peers, 1, "the one that spoke is a peer");
    assert.equal(
      await closedWithin(silent[0], 1000),
      true,
      "the oldest silent ones were closed to make room",
    );
  } finally {
    closeAll(silent);
    seeder.stop();
    await seeder.done;
  }
});

Deno.test("fast connect-and-close churn leaves no peer actor behind, and the seeder still serves", async () => {
  const seeder = memorySeeder(meta, data);
  try {
    const port = await listeningPort(seeder);
    const hello = encodeHandshake(meta.infoHash, new Uint8Array(20).fill(7));
    for (let i = 0; i < 400; i++) {
      const c = await Deno.connect({ hostname: "127.0.0.1", port });
      // A third close at once, a third mid-handshake, a third after a whole handshake.
      if (i % 3 === 1) await c.write(hello.subarray(0, 30)).catch(() => {});
      if (i % 3 === 2) await c.write(hello).catch(() => {});
      c.close();
    }
    let left = seeder.peers().length;
    for (let t = 0; t < 100 && left > 0; t++) {
      await new Promise((r) => setTimeout(r, 50));
      left = seeder.peers().length;
    }
    assert.equal(left, 0, "every churned connection's actor is gone");
    const { result, bytes } = await honestDownload(port);
    assert(result.ok, result.error);
    assert.deepEqual(bytes, data);
  } finally {
    seeder.stop();
    await seeder.done;
  }
});
