import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { type AnyActorRef, createActor, fromCallback, setup, waitFor } from "xstate";
import { coordinatorMachine } from "../../actors/coordinator.ts";
import { Bitfield } from "../../src/common/bitfield.ts";
import { parseMetainfo } from "../../src/metainfo/metainfo.ts";
import { PieceState } from "../../src/pieces/piece_picker.ts";
import { MemoryStorage } from "../../src/storage/storage.ts";
import { PieceWriters } from "../../src/pieces/piece_writers.ts";
import { makeTorrent, payload } from "../helpers/make_torrent.ts";

const PIECE = 16384;

async function harness(
  pieces = 6,
  options: { budgetBytes?: number; slowWrites?: boolean; streamAbove?: number } = {},
) {
  const { torrent, data } = await makeTorrent({
    name: "c",
    files: [{ path: ["c"], data: payload(pieces * PIECE - 100, 3) }],
    pieceLength: PIECE,
  });
  const meta = await parseMetainfo(torrent);
  const storage = new MemoryStorage(meta.totalLength);
  // Slow writes: each waits until the test lets it through, as a busy disk would.
  const held: (() => void)[] = [];
  if (options.slowWrites) {
    const write = storage.writeSync.bind(storage);
    storage.write = (offset, data) => new Promise((resolve) => held.push(() => resolve(write(offset, data))));
    // Without it the verifier writes small pieces at once: only the asynchronous write can be slow.
    Object.defineProperty(storage, "writeSync", { value: undefined });
  }
  const writers = options.streamAbove === undefined
    ? undefined
    : new PieceWriters((offset, data) => storage.writeSync(offset, data), PIECE, options.streamAbove);
  const strikes: string[] = [];
  const completions: number[] = [];
  const parent = createActor(
    setup({ actors: { coordinator: coordinatorMachine } }).createMachine({
      invoke: {
        id: "coordinator",
        src: "coordinator",
        input: { meta, storage, piecesPerPeer: 2, budgetBytes: options.budgetBytes, writers },
      },
      on: {
        "peer.strike": { actions: ({ event }) => strikes.push((event as unknown as { key: string }).key) },
        "coordinator.complete": { actions: () => completions.push(1) },
      },
    }),
  );
  parent.start();
  const coordinator = parent.getSnapshot().children.coordinator as AnyActorRef;
  const peer = (key: string, has: number[]) => {
    const orders: { type: string; indices?: number[]; index?: number; value?: boolean }[] = [];
    const ref = createActor(fromCallback(({ receive }) => receive((e) => orders.push(e as never)))).start();
    const bits = new Bitfield(meta.pieceCount);
    has.forEach((i) => bits.set(i));
    coordinator.send({ type: "peer.hello", key, ref });
    coordinator.send({ type: "peer.bitfield", key, bitfield: bits });
    return {
      key,
      orders,
      assigned: () => orders.filter((o) => o.type === "assign").flatMap((o) => o.indices!),
    };
  };
  const piece = (i: number) => data.slice(i * PIECE, Math.min((i + 1) * PIECE, data.length));
  return {
    meta,
    data,
    storage,
    writers,
    coordinator,
    parent,
    peer,
    piece,
    strikes,
    held,
    completed: () => completions.length === 1,
  };
}

Deno.test("coordinator hands each peer pieces it has, rarest first, never the same piece to two peers", async () => {
  const h = await harness();
  const a = h.peer("a", [0, 1, 2, 3, 4, 5]);
  const b = h.peer("b", [2, 3, 4]);
  assert.deepEqual(a.orders[0], { type: "interest", value: true });
  h.coordinator.send({ type: "peer.ready", key: "a" });
  h.coordinator.send({ type: "peer.ready", key: "b" });
  const as = a.assigned(), bs = b.assigned();
  assert.equal(as.length, 2);
  assert.equal(bs.length, 2);
  assert(as.every((i) => [0, 1, 5].includes(i)), `a got the pieces only it has first: ${as}`);
  assert(bs.every((i) => [2, 3, 4].includes(i)), `b got pieces it has: ${bs}`);
  h.parent.stop();
});

Deno.test("coordinator takes pieces back from a choked peer and hands them to another", async () => {
  const h = await harness();
  const a = h.peer("a", [0, 1, 2, 3, 4, 5]);
  const b = h.peer("b", [0, 1, 2, 3, 4, 5]);
  const state = (i: number) => h.coordinator.getSnapshot().context.scheduler.picker.state[i];
  h.coordinator.send({ type: "peer.ready", key: "a" });
  const first = a.assigned();
  assert.equal(first.length, 2);
  h.coordinator.send({ type: "peer.choked", key: "a" });
  assert(first.every((i) => state(i) === PieceState.Missing), "a's pieces are missing again");
  h.coordinator.send({ type: "peer.ready", key: "b" });
  const taken = b.assigned();
  assert.equal(taken.length, 2);
  h.coordinator.send({ type: "peer.gone", key: "b" });
  assert(taken.every((i) => state(i) === PieceState.Missing), "b's pieces are missing again");
  h.coordinator.send({ type: "peer.ready", key: "a" });
  assert.equal(a.assigned().length, 4);
  h.parent.stop();
});

Deno.test("coordinator verifies and stores whole pieces, strikes the sender of a bad one, and completes", async () => {
  const h = await harness(3);
  const a = h.peer("a", [0, 1, 2]);
  h.coordinator.send({ type: "peer.ready", key: "a" });
  const [x, y] = a.assigned();
  const z = [0, 1, 2].find((i) => i !== x && i !== y)!;
  const bad = h.piece(x);
  bad[5] ^= 1;
  // A bad piece and a good one in one batch (one socket read): the good one is stored, the bad one struck.
  h.coordinator.send({
    type: "peer.pieces",
    key: "a",
    pieces: [{ index: x, data: bad }, { index: y, data: h.piece(y) }],
    want: 2,
  });
  await waitFor(
    h.coordinator,
    (s) => s.context.scheduler.stats.hashFailures === 1 && s.context.scheduler.stats.verifiedPieces === 1,
  );
  assert.deepEqual(h.strikes, ["a"]);
  // The bad piece is missing again and goes out again; the third piece too.
  const again = a.assigned().slice(2);
  assert.deepEqual(again.sort(), [x, z].sort());
  h.coordinator.send({ type: "peer.pieces", key: "a", pieces: [{ index: x, data: h.piece(x) }], want: 2 });
  h.coordinator.send({ type: "peer.pieces", key: "a", pieces: [{ index: z, data: h.piece(z) }], want: 2 });
  assert.equal(h.coordinator.getSnapshot().context.scheduler.inFlightBytes, 0);
  await waitFor(h.coordinator, (s) => s.value === "complete");
  assert(h.completed(), "the parent was told");
  assert.deepEqual(h.storage.data, h.data);
  h.parent.stop();
});

Deno.test("coordinator takes pieces its links checked and wrote, and strikes the sender of one that failed", async () => {
  const h = await harness(3);
  const a = h.peer("a", [0, 1, 2]);
  h.coordinator.send({ type: "peer.ready", key: "a" });
  const [x, y] = a.assigned();
  h.coordinator.send({
    type: "peer.pieces",
    key: "a",
    pieces: [{ index: x, checked: false }, { index: y, checked: true }],
    want: 2,
  });
  await waitFor(
    h.coordinator,
    (s) => s.context.scheduler.stats.hashFailures === 1 && s.context.scheduler.stats.verifiedPieces === 1,
  );
  assert.deepEqual(h.strikes, ["a"]);
  const picker = h.coordinator.getSnapshot().context.scheduler.picker;
  assert.equal(picker.state[y], PieceState.Verified);
  assert.notEqual(picker.state[x], PieceState.Verified, "missing again");
  assert(a.assigned().slice(2).includes(x), "and handed out again");
  h.parent.stop();
});

Deno.test("coordinator endgame: an idle peer gets a piece in flight elsewhere, and the slower copy is cancelled", async () => {
  const h = await harness(2);
  const a = h.peer("a", [0, 1]);
  const b = h.peer("b", [0, 1]);
  h.coordinator.send({ type: "peer.ready", key: "a" });
  assert.deepEqual(a.assigned().sort(), [0, 1]);
  h.coordinator.send({ type: "peer.ready", key: "b" });
  const [dup] = b.assigned();
  assert.equal(b.assigned().length, 1, "endgame: one duplicate of a piece a is fetching");
  h.coordinator.send({
    type: "peer.pieces",
    key: "b",
    pieces: [{ index: dup, data: h.piece(dup) }],
    want: 2,
  });
  assert.deepEqual(a.orders.at(-1), { type: "cancel", index: dup });
  h.parent.stop();
});

Deno.test("coordinator counts pieces still being hashed or written in its memory budget", async () => {
  const h = await harness(8, { budgetBytes: PIECE, slowWrites: true }); // one peer: twice that
  const a = h.peer("a", [0, 1, 2, 3, 4, 5, 6]); // not the short last piece: every piece is one PIECE
  h.coordinator.send({ type: "peer.ready", key: "a" });
  const [x, y] = a.assigned();
  h.coordinator.send({ type: "peer.pieces", key: "a", pieces: [{ index: x, data: h.piece(x) }], want: 2 });
  h.coordinator.send({ type: "peer.pieces", key: "a", pieces: [{ index: y, data: h.piece(y) }], want: 2 });
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(h.held.length, 2, "both pieces hashed and waiting for the disk");
  assert.equal(a.assigned().length, 2, "no new piece while two are still in memory");
  h.held.shift()!();
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(a.assigned().length, 3, "one written: room for one more");
  h.parent.stop();
});

Deno.test("coordinator keeps the pieces of a batch written before the disk failed, then fails", async () => {
  const h = await harness(3);
  const a = h.peer("a", [0, 1, 2]);
  h.coordinator.send({ type: "peer.ready", key: "a" });
  const [x, y] = a.assigned();
  const write = h.storage.writeSync.bind(h.storage);
  h.storage.writeSync = (offset, data) => {
    if (offset === y * PIECE) throw new Error("No space left on device");
    write(offset, data);
  };
  h.coordinator.send({
    type: "peer.pieces",
    key: "a",
    pieces: [{ index: x, data: h.piece(x) }, { index: y, data: h.piece(y) }],
    want: 2,
  });
  await waitFor(h.coordinator, (s) => s.value === "failed");
  const { stats, error } = h.coordinator.getSnapshot().output!;
  assert.match(error!, new RegExp(`cannot write piece ${y}: No space left on device`));
  assert.equal(stats.verifiedPieces, 1, "the piece written before the failure counts as verified");
  assert.equal(h.coordinator.getSnapshot().context.scheduler.picker.state[x], PieceState.Verified);
  h.parent.stop();
});

const sha1 = (bytes: Uint8Array) => new Uint8Array(createHash("sha1").update(bytes).digest());

Deno.test("coordinator grants streamed pieces at assignment, takes them by their SHA-1, strikes a wrong one", async () => {
  const h = await harness(3, { streamAbove: 0 });
  const a = h.peer("a", [0, 1, 2]);
  h.coordinator.send({ type: "peer.ready", key: "a" });
  const [x, y] = a.assigned();
  assert.deepEqual([h.writers!.owner(x), h.writers!.owner(y)], ["a", "a"]);
  // The link wrote both as they arrived; one of them is not what the torrent says.
  const wrong = h.piece(y);
  wrong[0] ^= 1;
  h.coordinator.send({
    type: "peer.pieces",
    key: "a",
    pieces: [{ index: x, digest: sha1(h.piece(x)) }, { index: y, digest: sha1(wrong) }],
    want: 2,
  });
  await waitFor(
    h.coordinator,
    (s) => s.context.scheduler.stats.verifiedPieces === 1 && s.context.scheduler.stats.hashFailures === 1,
  );
  assert.deepEqual(h.strikes, ["a"]);
  assert.equal(h.writers!.owner(x), undefined, "revoked when its copy was taken");
  assert.ok(
    h.storage.data.subarray(x * PIECE, (x + 1) * PIECE).every((b) => b === 0),
    "nothing written here",
  );
  const again = a.assigned().slice(2);
  assert(again.includes(y), "the wrong piece goes out again");
  assert.equal(h.writers!.owner(y), "a", "granted again with it");
  h.parent.stop();
});

Deno.test("coordinator endgame: a streamed piece's duplicate gets no grant, and the first copy taken revokes it", async () => {
  const h = await harness(2, { streamAbove: 0 });
  const a = h.peer("a", [0, 1]);
  const b = h.peer("b", [0, 1]);
  h.coordinator.send({ type: "peer.ready", key: "a" });
  h.coordinator.send({ type: "peer.ready", key: "b" });
  const [dup] = b.assigned();
  assert.equal(h.writers!.owner(dup), "a", "b assembles its copy in memory");
  h.coordinator.send({
    type: "peer.pieces",
    key: "b",
    pieces: [{ index: dup, data: h.piece(dup) }],
    want: 2,
  });
  assert.equal(h.writers!.owner(dup), undefined, "a writes no more of it, before its cancel even arrives");
  assert.deepEqual(a.orders.at(-1), { type: "cancel", index: dup });
  h.parent.stop();
});

Deno.test("coordinator takes a streamed piece's grant back with the piece, and fails when a streamed write fails", async () => {
  const h = await harness(3, { streamAbove: 0 });
  const a = h.peer("a", [0, 1, 2]);
  h.coordinator.send({ type: "peer.ready", key: "a" });
  const [x] = a.assigned();
  h.coordinator.send({ type: "peer.choked", key: "a" });
  assert.equal(h.writers!.owner(x), undefined);
  h.coordinator.send({ type: "peer.ready", key: "a" });
  const [z] = a.assigned().slice(-1);
  h.storage.writeSync = () => {
    throw new Error("No space left on device");
  };
  assert.equal(h.writers!.for("a").put(z, 0, new Uint8Array(10)), false);
  await waitFor(h.coordinator, (s) => s.value === "failed");
  assert.match(
    h.coordinator.getSnapshot().output!.error!,
    new RegExp(`cannot write piece ${z}: No space left`),
  );
  h.parent.stop();
});

Deno.test("coordinator ignores a streamed copy from a peer that lost the piece: another may have written there", async () => {
  const h = await harness(2, { streamAbove: 0 });
  const a = h.peer("a", [0, 1]);
  h.coordinator.send({ type: "peer.ready", key: "a" });
  const [x] = a.assigned();
  h.coordinator.send({ type: "peer.choked", key: "a" });
  const b = h.peer("b", [0, 1]);
  h.coordinator.send({ type: "peer.ready", key: "b" });
  assert(b.assigned().includes(x));
  assert.equal(h.writers!.owner(x), "b");
  // a's SHA-1, sent before the choke and arriving after: b writes that piece now.
  h.coordinator.send({
    type: "peer.pieces",
    key: "a",
    pieces: [{ index: x, digest: sha1(h.piece(x)) }],
    want: 2,
  });
  assert.equal(h.coordinator.getSnapshot().context.scheduler.stats.receivedBytes, 0);
  assert.equal(h.writers!.owner(x), "b", "b keeps writing it");
  h.parent.stop();
});
