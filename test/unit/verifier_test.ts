import assert from "node:assert/strict";
import { createActor, sendTo, setup } from "xstate";
import { verifier } from "../../actors/verifier.ts";
import { parseMetainfo } from "../../src/metainfo/metainfo.ts";
import type { WholePiece } from "../../src/pieces/scheduler.ts";
import { MemoryStorage, type Storage } from "../../src/storage/storage.ts";
import { makeTorrent, payload } from "../helpers/make_torrent.ts";

const PIECE = 16384;

/** A verifier under a parent that logs what it is told, over a storage that logs its writes. */
async function harness(failHeld: boolean) {
  const { torrent, data } = await makeTorrent({
    name: "v",
    files: [{ path: ["v"], data: payload(4 * PIECE, 8) }],
    pieceLength: PIECE,
  });
  const meta = await parseMetainfo(torrent);
  const log: string[] = [];
  const memory = new MemoryStorage(meta.totalLength);
  const storage: Storage = {
    write: (offset, bytes) => memory.write(offset, bytes),
    writeSync: (offset) => void log.push(`write ${offset / PIECE}`),
    writeHeld: () => {
      log.push("held written");
      if (failHeld) throw new Error("No space left on device");
    },
    read: (offset, length) => memory.read(offset, length),
    sync: () => Promise.resolve(),
    close: () => {},
  };
  const parent = createActor(
    setup({ actors: { verifier } }).createMachine({
      invoke: { id: "v", src: "verifier", input: { meta, storage } },
      on: {
        verify: { actions: sendTo("v", ({ event }) => event) },
        "pieces.verified": {
          actions: ({ event }) => void log.push(`verified ${event.indices.join(",")}`),
        },
        "storage.failed": { actions: ({ event }) => void log.push(`failed: ${event.message}`) },
      },
    }),
  ).start();
  const piece = (index: number): WholePiece => ({
    index,
    data: data.slice(index * PIECE, (index + 1) * PIECE),
  });
  const verify = async (pieces: WholePiece[]) => {
    parent.send({ type: "verify", key: "p", pieces } as never);
    await new Promise((r) => setTimeout(r, 10));
  };
  return { log, verify, piece, stop: () => parent.stop() };
}

Deno.test("the verifier reports pieces verified only after the storage wrote what it held back", async () => {
  const { log, verify, piece, stop } = await harness(false);
  try {
    await verify([piece(0), piece(1), { index: 2, checked: true }]);
    assert.deepEqual(log, ["write 0", "write 1", "held written", "verified 0,1,2"]);
  } finally {
    stop();
  }
});

Deno.test("the verifier reports a failed held-back write as the storage failing, and no piece verified", async () => {
  const { log, verify, piece, stop } = await harness(true);
  try {
    await verify([piece(0), { index: 2, checked: true }]);
    assert.deepEqual(log, [
      "write 0",
      "held written",
      "failed: cannot write piece 0: No space left on device",
    ]);
  } finally {
    stop();
  }
});
