import assert from "node:assert/strict";
import { type AnyActorRef, createActor, fromCallback, setup, waitFor } from "xstate";
import { coordinatorMachine } from "../../actors/coordinator.ts";
import { Bitfield } from "../../src/bitfield.ts";
import { parseMetainfo } from "../../src/metainfo.ts";
import { MemoryStorage } from "../../src/storage.ts";
import { makeTorrent, payload } from "../helpers/make_torrent.ts";

const PIECE = 16384;

async function harness(pieces = 6, options: { budgetBytes?: number; slowWrites?: boolean } = {}) {
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
    const write = storage.write.bind(storage);
    storage.write = (offset, data) =>
      new Promise((resolve) => held.push(() => write(offset, data).then(resolve)));
  }
  const strikes: string[] = [];
  const completions: number[] = [];
  const parent = createActor(
    setup({ actors: { coordinator: coordinatorMachine } }).createMachine({
      invoke: {
        id: "coordinator",
        src: "coordinator",
        input: { meta, storage, piecesPerPeer: 2, budgetBytes: options.budgetBytes },
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
    coordinator,
    parent,
    peer,
    piece,
    strikes,
    held,
    completed: () => completions.length === 1,
  };
}

Deno.test("coordinator hands each peer pieces it has, never the same piece to two peers", async () => {
  const h = await harness();
  const a = h.peer("a", [0, 1, 2, 3, 4, 5]);
  const b = h.peer("b", [2, 3, 4]);
  assert.deepEqual(a.orders[0], { type: "interest", value: true });
  h.coordinator.send({ type: "peer.ready", key: "a" });
  h.coordinator.send({ type: "peer.ready", key: "b" });
  assert.deepEqual(a.assigned(), [0, 1]);
  assert.deepEqual(b.assigned(), [2, 3]);
  h.parent.stop();
});

Deno.test("coordinator takes pieces back from a choked peer and hands them to another", async () => {
  const h = await harness();
  const a = h.peer("a", [0, 1, 2, 3, 4, 5]);
  const b = h.peer("b", [0, 1, 2, 3, 4, 5]);
  h.coordinator.send({ type: "peer.ready", key: "a" });
  assert.deepEqual(a.assigned(), [0, 1]);
  h.coordinator.send({ type: "peer.choked", key: "a" });
  h.coordinator.send({ type: "peer.ready", key: "b" });
  assert.deepEqual(b.assigned(), [0, 1]);
  h.coordinator.send({ type: "peer.gone", key: "b" });
  h.coordinator.send({ type: "peer.ready", key: "a" });
  assert.deepEqual(a.assigned(), [0, 1, 0, 1]);
  h.parent.stop();
});

Deno.test("coordinator verifies and stores whole pieces, strikes the sender of a bad one, and completes", async () => {
  const h = await harness(3);
  const a = h.peer("a", [0, 1, 2]);
  h.coordinator.send({ type: "peer.ready", key: "a" });
  assert.deepEqual(a.assigned(), [0, 1]);
  const bad = h.piece(0);
  bad[5] ^= 1;
  h.coordinator.send({ type: "peer.piece", key: "a", index: 0, data: bad });
  h.coordinator.send({ type: "peer.piece", key: "a", index: 1, data: h.piece(1) });
  await waitFor(
    h.coordinator,
    (s) => s.context.stats.hashFailures === 1 && s.context.stats.verifiedPieces === 1,
  );
  assert.deepEqual(h.strikes, ["a"]);
  // Piece 0 is missing again and goes out again; piece 2 too.
  const again = a.assigned().slice(2);
  assert.deepEqual(again.sort(), [0, 2]);
  h.coordinator.send({ type: "peer.piece", key: "a", index: 0, data: h.piece(0) });
  h.coordinator.send({ type: "peer.piece", key: "a", index: 2, data: h.piece(2) });
  await waitFor(h.coordinator, (s) => s.value === "complete");
  assert(h.completed(), "the parent was told");
  assert.deepEqual(h.storage.data, h.data);
  h.parent.stop();
});

Deno.test("coordinator endgame: an idle peer gets a piece in flight elsewhere, and the slower copy is cancelled", async () => {
  const h = await harness(2);
  const a = h.peer("a", [0, 1]);
  const b = h.peer("b", [0, 1]);
  h.coordinator.send({ type: "peer.ready", key: "a" });
  assert.deepEqual(a.assigned(), [0, 1]);
  h.coordinator.send({ type: "peer.ready", key: "b" });
  assert.deepEqual(b.assigned(), [0], "endgame duplicate of piece 0");
  h.coordinator.send({ type: "peer.piece", key: "b", index: 0, data: h.piece(0) });
  assert.deepEqual(a.orders.at(-1), { type: "cancel", index: 0 });
  h.parent.stop();
});

Deno.test("coordinator counts pieces still being hashed or written in its memory budget", async () => {
  const h = await harness(8, { budgetBytes: 2 * PIECE, slowWrites: true });
  const a = h.peer("a", [0, 1, 2, 3, 4, 5, 6, 7]);
  h.coordinator.send({ type: "peer.ready", key: "a" });
  assert.deepEqual(a.assigned(), [0, 1]);
  h.coordinator.send({ type: "peer.piece", key: "a", index: 0, data: h.piece(0) });
  h.coordinator.send({ type: "peer.piece", key: "a", index: 1, data: h.piece(1) });
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(h.held.length, 2, "both pieces hashed and waiting for the disk");
  assert.deepEqual(a.assigned(), [0, 1], "no new piece while two are still in memory");
  h.held.shift()!();
  await new Promise((r) => setTimeout(r, 50));
  assert.deepEqual(a.assigned(), [0, 1, 2], "one written: room for one more");
  h.parent.stop();
});
