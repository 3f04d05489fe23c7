/**
 * The swarm machine with its children faked through `.provide()`: peers are small machines that stay
 * `connected` until the test closes them, the tracker and the tick are driven by the test. No socket.
 */

import assert from "node:assert/strict";
import { type AnyActorRef, createActor, fromCallback, sendParent, setup } from "xstate";
import { type SwarmInput, swarmMachine } from "../../actors/swarm.ts";
import type { PeerInput } from "../../actors/peer.ts";
import { LocalPieces } from "../../src/pieces/local_pieces.ts";
import { MemoryStorage } from "../../src/storage/storage.ts";
import { AddressBook } from "../../src/swarm/address_book.ts";
import { UdpTrackerClient } from "../../src/tracker/udp_client.ts";
import { testTorrent } from "../helpers/make_torrent.ts";

const { meta } = await testTorrent({ size: 100_000, pieceLength: 16384, seed: 5 });

const fakePeer = setup({
  types: { input: {} as PeerInput, context: {} as PeerInput & Record<string, unknown> },
}).createMachine({
  context: ({ input }) => ({
    ...input,
    peerInterested: false,
    amChoking: true,
    rates: { down: 0, up: 0 },
    incoming: input.link.conn !== undefined,
    bans: [] as string[],
  }),
  initial: "connected",
  states: {
    connected: {
      on: {
        close: {
          actions: sendParent(({ context }) => ({
            type: "peer.closed",
            key: context.key,
            reason: "closed by the test",
            handshaken: true,
            pieces: 0,
          })),
        },
        ban: {
          actions: ({ context, event }) =>
            (context.bans as string[]).push((event as never as { reason: string }).reason),
        },
      },
    },
  },
});

function harness(options: Partial<SwarmInput> = {}) {
  const book = new AddressBook(6881);
  const reports: { type: string; status?: string; error?: string }[] = [];
  let tracker!: (e: { type: string; [k: string]: unknown }) => void;
  let tick!: () => void;
  const swarm = swarmMachine.provide({
    actors: {
      peer: fakePeer as never,
      tracker: fromCallback(({ sendBack }) => {
        tracker = sendBack;
      }) as never,
      acceptor: fromCallback(() => {}) as never,
      ticker: fromCallback(({ sendBack }) => {
        tick = () => sendBack({ type: "tick" });
      }) as never,
    },
  });
  const input: SwarmInput = {
    meta,
    peerId: new Uint8Array(20),
    port: 6881,
    book,
    ours: new LocalPieces(meta.pieceCount),
    storage: new MemoryStorage(meta.totalLength),
    trackers: { options: { udp: new UdpTrackerClient(), timeoutMs: 1000 }, announced: new Set() },
    seeding: false,
    ...options,
  };
  const parent = createActor(
    setup({ actors: { swarm, coordinator: fromCallback(() => {}) } }).createMachine({
      invoke: [{ src: "coordinator", systemId: "coordinator" }, { id: "swarm", src: "swarm", input }],
      on: { "*": { actions: ({ event }) => reports.push(event as never) } },
    }),
  );
  parent.start();
  const swarmRef = () => parent.getSnapshot().children.swarm as AnyActorRef;
  const peers = () => Object.keys(swarmRef().getSnapshot().children).filter((k) => k.includes(":")).sort();
  const peer = (key: string) => swarmRef().getSnapshot().children[key] as AnyActorRef;
  return {
    book,
    reports,
    swarm: swarmRef,
    peers,
    peer,
    state: () => swarmRef().getSnapshot().value,
    tracker: (e: { type: string; [k: string]: unknown }) => tracker(e),
    tick: () => tick(),
    settle: () => new Promise((r) => setTimeout(r, 5)),
    stop: () => parent.stop(),
  };
}

const addr = (port: number) => ({ host: "10.0.0.1", port });

Deno.test("swarm machine dials the book up to maxPeers, then tracker peers as places free up", async () => {
  const h = harness({ maxPeers: 2 });
  h.book.add([addr(1), addr(2), addr(3)], "given");
  await h.settle(); // the swarm dials once the coordinator is in the system
  assert.deepEqual(h.peers(), ["10.0.0.1:1", "10.0.0.1:2"]);
  h.tracker({ type: "tracker.peers", peers: [addr(4)], tracker: "http://t/announce" });
  assert.deepEqual(h.reports.at(-1), { type: "swarm.tracker", status: "1 peers from http://t/announce" });
  assert.deepEqual(h.peers(), ["10.0.0.1:1", "10.0.0.1:2"], "still full");
  h.peer("10.0.0.1:1").send({ type: "close" });
  await h.settle();
  assert.deepEqual(
    h.peers(),
    ["10.0.0.1:2", "10.0.0.1:3"],
    "the closed peer's place goes to the next address",
  );
  assert.equal(h.book.entries.get("10.0.0.1:1")!.failures, 1, "the closed address backs off");
  assert.equal(h.book.entries.get("10.0.0.1:1")!.lastReason, "closed by the test");
  h.stop();
});

Deno.test("swarm machine dials at its pace: so many at the start, as many again each second", async () => {
  const h = harness({ maxPeers: 10, dialsPerSecond: 3 });
  h.book.add([1, 2, 3, 4, 5, 6, 7].map(addr), "given");
  await h.settle();
  assert.equal(h.peers().length, 3, "three at once");
  h.tracker({ type: "tracker.peers", peers: [addr(8)], tracker: "http://t/announce" });
  h.peer(h.peers()[0]).send({ type: "close" });
  assert.equal(h.peers().length, 2, "no more before the second is over, whatever comes");
  h.tick();
  assert.equal(h.peers().length, 5, "three more a second later");
  h.tick();
  assert.equal(h.peers().length, 7, "and the last two");
  h.stop();
});

Deno.test("swarm machine bans a peer at its third strike and tells it so", () => {
  const h = harness();
  h.book.add([addr(1)], "given");
  h.swarm().send({ type: "connect" });
  for (let i = 0; i < 3; i++) h.swarm().send({ type: "peer.strike", key: "10.0.0.1:1", index: i });
  assert.equal(h.book.entries.get("10.0.0.1:1")!.banned, true);
  assert.deepEqual(h.peer("10.0.0.1:1").getSnapshot().context.bans, ["banned after 3 corrupt pieces"]);
  h.stop();
});

Deno.test("swarm machine reports no peers after the time-out while downloading, never once complete", async () => {
  const h = harness({ noPeersTimeoutMs: 30 });
  h.tick();
  assert(!h.reports.some((r) => r.type === "swarm.no-peers"), "not yet");
  await new Promise((r) => setTimeout(r, 40));
  h.tracker({ type: "tracker.error", message: "tracker unreachable" });
  h.tick();
  assert.deepEqual(h.reports.at(-1), {
    type: "swarm.no-peers",
    error: "no peer connected for 0 s (last tracker error: tracker unreachable)",
  });

  const done = harness({ noPeersTimeoutMs: 30 });
  done.swarm().send({ type: "swarm.complete" });
  assert.equal(done.state(), "seeding");
  await new Promise((r) => setTimeout(r, 40));
  done.book.add([addr(9)], "given");
  done.tick();
  assert(!done.reports.some((r) => r.type === "swarm.no-peers"), "a complete swarm does not time out");
  assert.deepEqual(done.peers(), [], "complete and not seeding: nobody is dialled");
  h.stop();
  done.stop();
});

Deno.test("swarm machine stops a closed peer's actor at once, complete or not; stopping the swarm stops the rest", async () => {
  for (const seeding of [false, true]) {
    const h = harness({ seeding });
    h.book.add([addr(1), addr(2), addr(3)], "given");
    await h.settle();
    const all = ["10.0.0.1:1", "10.0.0.1:2", "10.0.0.1:3"];
    const refs = all.map((k) => h.peer(k));
    h.swarm().send({ type: "swarm.complete" });
    h.peer("10.0.0.1:1").send({ type: "close" });
    assert.deepEqual(h.peers(), all.slice(1), `seeding ${seeding}: the closed peer is gone`);
    assert.equal(h.book.entries.get("10.0.0.1:1")!.lastReason, "closed by the test", "the book hears of it");
    h.stop();
    assert.deepEqual(refs.map((r) => r.getSnapshot().status), ["stopped", "stopped", "stopped"]);
  }
});

Deno.test("swarm machine keeps dialling once complete when it seeds", () => {
  const h = harness({ seeding: true });
  h.swarm().send({ type: "swarm.complete" });
  h.book.add([addr(1)], "given");
  h.tick();
  assert.deepEqual(h.peers(), ["10.0.0.1:1"]);
  h.stop();
});

Deno.test("swarm machine takes seeds from PEX while it downloads, and leaves them out once it has every piece", () => {
  const ours = new LocalPieces(meta.pieceCount);
  const h = harness({ seeding: true, ours, maxPeers: 0 });
  h.swarm().send({ type: "peer.pex", key: "x", peers: [{ ...addr(1), seed: true }, addr(2)] });
  assert.deepEqual([...h.book.entries.keys()].sort(), ["10.0.0.1:1", "10.0.0.1:2"]);
  for (let i = 0; i < meta.pieceCount; i++) ours.add(i);
  h.swarm().send({ type: "peer.pex", key: "x", peers: [{ ...addr(3), seed: true }, addr(4)] });
  assert.deepEqual([...h.book.entries.keys()].sort(), ["10.0.0.1:1", "10.0.0.1:2", "10.0.0.1:4"]);
  h.stop();
});
