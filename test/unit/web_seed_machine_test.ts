/** The web seed machine with a fake fetch and a fake coordinator: what it tells whom, and when it gives up. */

import assert from "node:assert/strict";
import { type AnyActorRef, createActor, fromCallback, fromPromise, setup } from "xstate";
import { type RunInput, type RunOutput, webSeedMachine } from "../../actors/web_seed.ts";
import { WebSeedError } from "../../src/webseed/http.ts";
import { testTorrent } from "../helpers/make_torrent.ts";

const PIECE = 16384;
const { meta } = await testTorrent({ size: 8 * PIECE, pieceLength: PIECE, seed: 4 });
const URL = "http://127.0.0.1:1/t.bin";
const tick = (ms = 0) => new Promise((r) => setTimeout(r, ms));

type Script = (run: RunInput) => Promise<void>;

const piecesOf = (first: number, count: number) =>
  Array.from({ length: count }, (_, k) => ({ index: first + k, data: new Uint8Array(PIECE) }));

/**
 * A web seed whose fetches follow `script` (which may deliver pieces on the way: the rest of the run is the output),
 * under a parent that records `webseed.closed`.
 */
function harness(script: Script) {
  const runs: { first: number; count: number }[] = [];
  const fakeFetch = fromPromise<RunOutput, RunInput>(
    async ({ input }) => {
      runs.push({ first: input.first, count: input.count });
      const delivered: number[] = [];
      await script({
        ...input,
        deliver: (pieces) => (delivered.push(...pieces.map((p) => p.index)), input.deliver(pieces)),
      });
      const rest = piecesOf(input.first, input.count).filter((p) => !delivered.includes(p.index));
      return { pieces: rest, bytes: input.count * PIECE };
    },
  );
  const told: { type: string; pieces?: { index: number }[]; want?: number; runs?: boolean }[] = [];
  const coordinator = createActor(fromCallback(({ receive }) => receive((e) => told.push(e as never))));
  coordinator.start();
  const closed: { reason: string }[] = [];
  const parent = createActor(
    setup({ actors: { webSeed: webSeedMachine.provide({ actors: { fetchRun: fakeFetch } }) } }).createMachine(
      {
        invoke: {
          id: "seed",
          src: "webSeed",
          input: { url: URL, meta, coordinator, options: { retryMs: 20, maxFailures: 3, maxStrikes: 2 } },
        },
        on: { "webseed.closed": { actions: ({ event }) => closed.push(event as never) } },
      },
    ),
  );
  parent.start();
  const seed = () => parent.getSnapshot().children.seed as AnyActorRef | undefined;
  const state = () => seed()?.getSnapshot().value;
  return { runs, told, closed, seed, state, stop: () => (parent.stop(), coordinator.stop()) };
}

Deno.test("a web seed says hello as a peer with every piece, fetches consecutive pieces as one run, reports them", async () => {
  const h = harness(() => Promise.resolve());
  try {
    assert.deepEqual(h.told.map((e) => e.type), ["peer.hello", "peer.bitfield", "peer.ready"]);
    assert.equal(h.told[0].runs, true);
    h.seed()!.send({ type: "assign", indices: [2, 3, 4, 7] });
    await tick(10);
    assert.deepEqual(h.runs, [{ first: 2, count: 3 }, { first: 7, count: 1 }], "runs of consecutive pieces");
    const pieces = h.told.filter((e) => e.type === "peer.pieces");
    assert.deepEqual(pieces.map((e) => e.pieces!.map((p) => p.index)), [[2, 3, 4], [7]]);
    assert.ok(pieces.every((e) => e.want! >= 2), "it asks for a run in flight and one queued");
    assert.equal(h.state(), "idle");
  } finally {
    h.stop();
  }
});

Deno.test("a web seed hands over the pieces a run delivers before the run ends", async () => {
  let finish = () => {};
  const h = harness(({ first, deliver }) => {
    deliver(piecesOf(first, 2));
    return new Promise<void>((resolve) => finish = resolve);
  });
  try {
    h.seed()!.send({ type: "assign", indices: [0, 1, 2, 3] });
    await tick(5);
    assert.equal(h.state(), "requesting", "the run is still being fetched");
    const handed = () =>
      h.told.filter((e) => e.type === "peer.pieces").map((e) => e.pieces!.map((p) => p.index));
    assert.deepEqual(handed(), [[0, 1]]);
    finish();
    await tick(5);
    assert.deepEqual(handed(), [[0, 1], [2, 3]], "the rest when it ends");
    assert.equal(h.state(), "idle");
  } finally {
    h.stop();
  }
});

Deno.test("a busy server: pieces go back (choked), ready again after the back-off; too many failures drop it", async () => {
  let failures = 0;
  const h = harness(() => {
    failures++;
    return Promise.reject(new WebSeedError("busy", "busy", failures === 1 ? 60 : undefined));
  });
  try {
    h.seed()!.send({ type: "assign", indices: [0, 1] });
    await tick(5);
    assert.equal(h.state(), "backingOff");
    assert.equal(h.told.at(-1)!.type, "peer.choked");
    await tick(40);
    assert.equal(h.state(), "backingOff", "Retry-After (60 ms) is honoured, not the 20 ms back-off");
    await tick(40);
    assert.ok(h.told.some((e, i) => i > 3 && e.type === "peer.ready"), "ready again after the wait");
    h.seed()!.send({ type: "assign", indices: [0] });
    await tick(100);
    h.seed()?.send({ type: "assign", indices: [0] });
    await tick(100);
    assert.equal(h.closed.length, 1);
    assert.match(h.closed[0].reason, /3 failures in a row, the last: busy/);
    assert.equal(h.told.at(-1)!.type, "peer.gone");
  } finally {
    h.stop();
  }
});

Deno.test("a 404 drops the web seed at once; strikes drop it at the limit", async () => {
  const gone = harness(() => Promise.reject(new WebSeedError(`${URL} answered 404 Not Found`, "gone")));
  try {
    gone.seed()!.send({ type: "assign", indices: [5] });
    await tick(5);
    assert.equal(gone.runs.length, 1);
    assert.match(gone.closed[0].reason, /404/);
  } finally {
    gone.stop();
  }
  const struck = harness(() => Promise.resolve());
  try {
    struck.seed()!.send({ type: "strike" });
    assert.equal(struck.closed.length, 0, "one strike is not the limit");
    struck.seed()!.send({ type: "strike" });
    assert.match(struck.closed[0].reason, /dropped after 2 pieces failed the hash/);
  } finally {
    struck.stop();
  }
});
