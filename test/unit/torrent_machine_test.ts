/**
 * The supervisor's lifecycle with every child faked through `.provide()`: no socket, no file, no tracker. The fake
 * coordinator, swarm and magnet phase are driven by the test; the fake jobs record what they were asked.
 */

import assert from "node:assert/strict";
import { type AnyActorRef, createActor, createMachine, fromCallback, fromPromise, sendParent } from "xstate";
import { torrentMachine } from "../../actors/torrent.ts";
import type { FinishInput, TorrentInput } from "../../actors/torrent_context.ts";
import type { MagnetOutput } from "../../actors/magnet.ts";
import { parseMagnet } from "../../src/metainfo/magnet.ts";
import { LocalPieces } from "../../src/pieces/local_pieces.ts";
import { MemoryStorage } from "../../src/storage/storage.ts";
import { testTorrent } from "../helpers/make_torrent.ts";

const { meta } = await testTorrent({ size: 100_000, pieceLength: 16384, seed: 3 });

function harness(input: Partial<TorrentInput>, magnetOutput: MagnetOutput = { meta }) {
  const finished: FinishInput["events"][] = [];
  /** Whether the swarm was still running when each finish began. */
  const swarmAtFinish: boolean[] = [];
  let swarmRunning = false;
  const toSwarm: { type: string; key?: string }[] = [];
  let coordinator!: (e: { type: string; key?: string; index?: number }) => void;
  let swarm!: (e: { type: string; error?: string; status?: string }) => void;
  const ours = new LocalPieces(meta.pieceCount);
  const machine = torrentMachine.provide({
    actors: {
      listen: fromPromise(() => Promise.resolve({})) as never,
      open: fromPromise(() =>
        Promise.resolve({ storage: new MemoryStorage(meta.totalLength), ours })
      ) as never,
      coordinator: fromCallback(({ sendBack }) => {
        coordinator = sendBack;
      }) as never,
      swarm: fromCallback(({ sendBack, receive }) => {
        swarm = sendBack;
        swarmRunning = true;
        receive((e) => toSwarm.push(e as never));
        return () => swarmRunning = false;
      }) as never,
      magnet: createMachine({
        initial: "fetching",
        states: {
          fetching: {
            entry: sendParent({ type: "magnet.metadata", status: "2 peers, 1 with metadata" }),
            on: { go: "done" },
          },
          done: { type: "final" },
        },
        output: () => magnetOutput,
      }) as never,
      finish: fromPromise<void, FinishInput>(({ input }) => {
        finished.push(input.events);
        swarmAtFinish.push(swarmRunning);
        return Promise.resolve();
      }),
    },
  });
  const actor = createActor(machine, {
    input: {
      peerId: new Uint8Array(20),
      port: 6881,
      openStorage: () => Promise.reject(new Error("faked")),
      ...input,
    },
  });
  actor.start();
  const state = () => JSON.stringify(actor.getSnapshot().value);
  const settle = async (want: string) => {
    for (let i = 0; i < 100 && state() !== want; i++) await new Promise((r) => setTimeout(r, 1));
    assert.equal(state(), want);
  };
  return {
    actor,
    state,
    settle,
    ours,
    finished,
    swarmAtFinish,
    toSwarm,
    coordinator: (e: { type: string; key?: string; index?: number }) => coordinator(e),
    swarm: (e: { type: string; error?: string; status?: string }) => swarm(e),
  };
}

Deno.test("torrent machine: listening → checking → active.downloading → leaving → done, telling the swarm", async () => {
  const h = harness({ meta });
  await h.settle('{"active":"downloading"}');
  h.coordinator({ type: "peer.strike", key: "10.0.0.1:1", index: 3 });
  assert.deepEqual(
    h.toSwarm,
    [{ type: "peer.strike", key: "10.0.0.1:1", index: 3 }],
    "strikes go to the swarm",
  );
  h.coordinator({ type: "coordinator.complete" });
  assert.deepEqual(h.toSwarm.at(-1), { type: "swarm.complete" });
  await h.settle('"done"');
  // Nothing was received this session (stats say 0): no `completed`, but `stopped` since it does not seed.
  assert.deepEqual(h.finished, [["stopped"]]);
  assert.deepEqual(
    h.swarmAtFinish,
    [false],
    "the swarm and its peers stopped before the flush and the announce",
  );
  assert.deepEqual(h.actor.getSnapshot().output, { ok: true, error: undefined, stats: undefined });
});

Deno.test("torrent machine: the swarm finding no peer ends the download through stopping, with its error", async () => {
  const h = harness({ meta });
  await h.settle('{"active":"downloading"}');
  h.swarm({ type: "swarm.tracker", status: "0 peers from http://t/announce" });
  assert.equal(h.actor.getSnapshot().context.status.tracker, "0 peers from http://t/announce");
  h.swarm({ type: "swarm.no-peers", error: "no peer connected for 120 s" });
  await h.settle('"failed"');
  assert.deepEqual(h.finished, [["stopped"]], "trackers hear stopped");
  assert.deepEqual(h.actor.getSnapshot().output, {
    ok: false,
    error: "no peer connected for 120 s",
    stats: undefined,
  });
});

Deno.test("torrent machine: a magnet link goes through the magnet phase and takes its torrent", async () => {
  const magnet = parseMagnet(`magnet:?xt=urn:btih:${meta.infoHashHex}`);
  const h = harness({ magnet });
  await h.settle('"metadata"');
  assert.equal(h.actor.getSnapshot().context.status.metadata, "2 peers, 1 with metadata");
  (h.actor.getSnapshot().children.magnet as AnyActorRef).send({ type: "go" });
  await h.settle('{"active":"downloading"}');
  assert.equal(h.actor.getSnapshot().context.meta, meta);
});

Deno.test("torrent machine: a magnet phase that fails ends the download with its error", async () => {
  const magnet = parseMagnet(`magnet:?xt=urn:btih:${meta.infoHashHex}`);
  const h = harness({ magnet }, { error: "no peer sent the metadata in 120 s" });
  await h.settle('"metadata"');
  (h.actor.getSnapshot().children.magnet as AnyActorRef).send({ type: "go" });
  await h.settle('"failed"');
  assert.equal(h.actor.getSnapshot().output?.error, "no peer sent the metadata in 120 s");
});

Deno.test("torrent machine: seeding stops at the ratio, and stop during a download ends it as stopped", async () => {
  const h = harness({ meta, seed: { ratio: 1 } });
  await h.settle('{"active":"downloading"}');
  h.coordinator({ type: "coordinator.complete" });
  await h.settle('{"active":"seeding"}');
  assert.deepEqual(h.finished, [[]], "seeding: trackers hear neither completed nor stopped yet");
  assert.deepEqual(h.swarmAtFinish, [true], "the swarm lives on to seed");
  h.ours.uploaded = meta.totalLength; // ratio 1 reached; the next tick notices
  await new Promise((r) => setTimeout(r, 1100));
  await h.settle('"done"');
  assert.deepEqual(h.finished, [[], ["stopped"]]);

  const s = harness({ meta });
  await s.settle('{"active":"downloading"}');
  s.actor.send({ type: "stop" });
  await s.settle('"stopped"');
  assert.equal(s.actor.getSnapshot().output?.ok, true, "stopped by the user: no error");
});
