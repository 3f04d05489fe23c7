import assert from "node:assert/strict";
import { MAX_QUEUED_REQUESTS, UploadQueue } from "../../src/peer/upload.ts";
import { LocalPieces } from "../../src/pieces/local_pieces.ts";
import { decodeMessage, type Message } from "../../src/wire/wire.ts";

const PIECE = 32768;

function harness(have: number[] = [0, 1], opts: { sync?: boolean; hold?: boolean } = {}) {
  const ours = new LocalPieces(3);
  have.forEach((i) => ours.add(i));
  const sent: Message[] = [];
  const writes: number[] = [];
  const failures: string[] = [];
  const reads: number[] = [];
  const queue = new UploadQueue(
    {
      pieceLength: PIECE,
      pieceCount: 3,
      totalLength: 2 * PIECE + 100,
      ours,
      readBlock: (offset, length) => {
        reads.push(offset);
        return Promise.resolve(new Uint8Array(length).fill(offset % 251));
      },
      readInto: opts.sync
        ? (offset, into) => {
          reads.push(offset);
          into.fill(offset % 251);
        }
        : undefined,
    },
    (written) => {
      // The bytes as the socket took them (the uploader reuses its buffer once the write is done).
      const bytes = written.slice();
      // One write may hold several frames (a batch of blocks): split them by their length prefixes.
      writes.push(bytes.length);
      const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      for (let at = 0; at < bytes.length; at += 4 + view.getUint32(at)) {
        sent.push(decodeMessage(bytes.subarray(at + 4, at + 4 + view.getUint32(at))));
      }
      // A peer that reads nothing: the write never completes.
      return opts.hold ? new Promise<void>(() => {}) : Promise.resolve();
    },
    (reason) => failures.push(reason),
  );
  return { queue, ours, sent, writes, failures, reads };
}

const tick = () => new Promise((r) => setTimeout(r, 0));

Deno.test("UploadQueue serves requests for verified pieces once it unchokes, and counts the bytes", async () => {
  const h = harness();
  h.queue.request(0, 0, 16384);
  assert.equal(h.sent.length, 0, "ignored while choking (BEP 3)");
  h.queue.unchoke();
  h.queue.request(1, 16384, 16384);
  h.queue.request(2, 0, 100); // a piece we lack: ignored
  await tick();
  assert.deepEqual(h.sent.map((m) => m.type), ["unchoke", "piece"]);
  const piece = h.sent[1] as Extract<Message, { type: "piece" }>;
  assert.deepEqual([piece.index, piece.begin, piece.block.length], [1, 16384, 16384]);
  assert.equal(h.queue.uploaded, 16384);
  assert.equal(h.ours.uploaded, 16384);
});

Deno.test("UploadQueue honours cancel and drops its queue when it chokes", async () => {
  const h = harness();
  h.queue.unchoke();
  h.queue.request(0, 0, 16384);
  h.queue.request(0, 16384, 16384);
  h.queue.request(1, 0, 16384);
  h.queue.cancel(0, 16384, 16384);
  h.queue.choke();
  await tick();
  assert.equal(h.queue.queued, 0);
  assert.deepEqual(h.reads, [], "nothing was read: serving waits for the requests a read brings");
});

Deno.test("UploadQueue ends the connection for requests out of range, too long, or too many", () => {
  for (
    const [r, why] of [
      [{ index: 5, begin: 0, length: 16384 }, /out of range/],
      [{ index: 0, begin: 0, length: 16385 }, /out of range/],
      [{ index: 0, begin: 0, length: 0 }, /out of range/],
      [{ index: 0, begin: PIECE - 100, length: 16384 }, /past the end of piece 0/],
    ] as const
  ) {
    const h = harness();
    h.queue.unchoke();
    h.queue.request(r.index, r.begin, r.length);
    assert.match(h.failures[0] ?? "", why);
    // Choked or not: a malformed request is not a request to ignore.
    const choked = harness();
    choked.queue.request(r.index, r.begin, r.length);
    assert.match(choked.failures[0] ?? "", why, "while choked too");
  }
  const flood = harness();
  flood.queue.unchoke();
  for (let i = 0; i <= MAX_QUEUED_REQUESTS + 1; i++) {
    flood.queue.request(1, 0, 16384);
  }
  assert.match(flood.failures[0] ?? "", /more than 2048 requests queued/);
});

Deno.test("UploadQueue sends queued blocks in batches of up to 256 KiB, one write each, every block right", async () => {
  const h = harness([0, 1, 2]);
  h.queue.unchoke();
  await tick();
  h.writes.length = 0;
  const asked = [];
  for (let i = 0; i < 3; i++) {
    for (let begin = 0; begin < (i === 2 ? 100 : PIECE); begin += 16384) {
      asked.push({ index: i, begin, length: Math.min(16384, i === 2 ? 100 : PIECE - begin) });
    }
  }
  // Twenty requests arrive before the first read is done: they leave in two writes, not twenty.
  for (let k = 0; k < 4; k++) for (const r of asked) h.queue.request(r.index, r.begin, r.length);
  await tick();
  await tick();
  const pieces = h.sent.filter((m) => m.type === "piece") as Extract<Message, { type: "piece" }>[];
  assert.equal(pieces.length, 20);
  assert.ok(h.writes.length <= 2, `${h.writes.length} writes`);
  assert.ok(h.writes.every((n) => n <= 256 * 1024));
  for (const p of pieces) {
    const offset = p.index * PIECE + p.begin;
    assert.deepEqual(p.block, new Uint8Array(p.block.length).fill(offset % 251));
  }
  assert.equal(h.queue.uploaded, 4 * (2 * PIECE + 100));
});

Deno.test("UploadQueue never sends a cancelled block, wherever it waits in the queue", async () => {
  const h = harness();
  h.queue.unchoke();
  const asked = [
    { index: 0, begin: 0, length: 16384 },
    { index: 0, begin: 16384, length: 16384 },
    { index: 1, begin: 0, length: 16384 },
    { index: 1, begin: 16384, length: 16384 },
  ];
  for (const r of asked) h.queue.request(r.index, r.begin, r.length);
  h.queue.cancel(asked[2].index, asked[2].begin, asked[2].length);
  h.queue.cancel(asked[3].index, asked[3].begin, asked[3].length);
  await tick();
  await tick();
  const pieces = h.sent.filter((m) => m.type === "piece") as Extract<Message, { type: "piece" }>[];
  assert.deepEqual(pieces.map((p) => [p.index, p.begin]), [[0, 0], [0, 16384]]);
  assert.equal(h.queue.queued, 0);
});

Deno.test("UploadQueue sends the requests one read brings in one write, even when blocks are read at once", async () => {
  const h = harness([0, 1, 2], { sync: true });
  h.queue.unchoke();
  await tick();
  h.writes.length = 0;
  // As the link hands over the requests of one socket read: one after another, with no await between.
  for (let begin = 0; begin < PIECE; begin += 16384) h.queue.request(0, begin, 16384);
  for (let begin = 0; begin < PIECE; begin += 16384) h.queue.request(1, begin, 16384);
  await tick();
  assert.deepEqual(h.writes, [4 * (13 + 16384)], "one write of four blocks");
  assert.equal(h.queue.uploaded, 4 * 16384);
});

Deno.test("UploadQueue says why to end the connection once a write has waited longer than sendStallMs, not before", async () => {
  const h = harness([0, 1], { sync: true, hold: true });
  h.queue.unchoke();
  await tick();
  const start = Date.now();
  h.queue.request(0, 0, 16384);
  await tick();
  assert.equal(h.queue.stall(start + 1000), undefined);
  assert.equal(h.queue.stall(start + 29_000), undefined);
  assert.equal(h.queue.stall(start + 31_000), "the peer read nothing for 30 s");
});

Deno.test("UploadQueue caps waiting requests, not cancelled ones: a peer may cancel and ask again", async () => {
  const h = harness([0, 1], { sync: true, hold: true }); // the first batch's write never ends: the rest wait
  h.queue.unchoke();
  await tick();
  const ask = (k: number) => h.queue.request(k % 2, 0, 16384);
  for (let k = 0; k < MAX_QUEUED_REQUESTS; k++) ask(k);
  await tick();
  const waiting = h.queue.queued;
  for (let k = 0; k < 1000; k++) h.queue.cancel(k % 2, 0, 16384);
  assert.equal(h.queue.queued, waiting - 1000);
  for (let k = 0; k < 1000; k++) ask(k);
  assert.deepEqual(h.failures, [], "1,000 cancelled and 1,000 asked again is no flood");
  assert.equal(h.queue.queued, waiting);
  while (h.queue.queued < MAX_QUEUED_REQUESTS) ask(0);
  assert.deepEqual(h.failures, []);
  ask(1);
  assert.match(h.failures[0] ?? "", /more than 2048 requests queued/, "beyond the cap it still is");
});
