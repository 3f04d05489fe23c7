import assert from "node:assert/strict";
import { type AnyActorRef, createActor, fromCallback, setup } from "xstate";
import { listenAddress, peerMachine, type PeerTimeouts } from "../../actors/peer.ts";
import type { LinkCommand, LinkEvent, LinkInput } from "../../src/peer/link_events.ts";
import { Bitfield } from "../../src/common/bitfield.ts";

/** A peer actor whose link is a fake socket driven by the test, under a parent that records `peer.closed`. */
function harness(timeouts: Partial<PeerTimeouts> = {}, alreadyConnected?: (peerId: string) => boolean) {
  const commands: LinkCommand[] = [];
  const toCoordinator: { type: string; index?: number }[] = [];
  const closed: { reason: string; handshaken: boolean; pieces: number }[] = [];
  const heard: string[] = []; // every event type the parent got
  let link!: (e: LinkEvent) => void;
  let linkStopped = false;
  const fakeLink = fromCallback<LinkCommand, LinkInput, LinkEvent>(({ sendBack, receive }) => {
    link = sendBack;
    receive((c) => commands.push(c));
    return () => linkStopped = true;
  });
  const coordinator = createActor(
    fromCallback(({ receive }) => receive((e) => toCoordinator.push(e as never))),
  );
  coordinator.start();
  const parent = createActor(
    setup({ actors: { peer: peerMachine.provide({ actors: { link: fakeLink } }) } }).createMachine({
      invoke: {
        id: "peer",
        src: "peer",
        input: {
          key: "127.0.0.1:7000",
          coordinator,
          timeouts,
          alreadyConnected,
          link: {
            host: "127.0.0.1",
            port: 7000,
            infoHash: new Uint8Array(20),
            peerId: new Uint8Array(20),
            pieceLength: 16384,
            pieceCount: 8,
            totalLength: 8 * 16384,
          },
        },
      },
      on: {
        "peer.closed": {
          actions: [({ event }) => closed.push(event as never), ({ event }) => heard.push(event.type)],
        },
        "*": { actions: ({ event }) => heard.push(event.type) },
      },
    }),
  );
  parent.start();
  const peer = () => parent.getSnapshot().children.peer as AnyActorRef;
  const state = () => JSON.stringify(peer()?.getSnapshot().value);
  return {
    link: (e: LinkEvent) => link(e),
    peer,
    state,
    commands,
    toCoordinator,
    closed,
    heard,
    linkStopped: () => linkStopped,
    stop: () => (parent.stop(), coordinator.stop()),
  };
}

Deno.test("peer machine walks connecting → handshaking → connected.choked → connected.downloading", () => {
  const h = harness();
  assert.equal(h.state(), '"connecting"');
  h.link({ type: "link.connected" });
  assert.equal(h.state(), '"handshaking"');
  h.link({ type: "link.handshaken", peerId: "ab", client: "TR3000", transport: "plain", via: "tcp" });
  assert.equal(h.state(), '{"connected":"choked"}');
  assert.equal(h.toCoordinator.at(-1)!.type, "peer.hello");
  h.link({ type: "link.bitfield", bitfield: new Bitfield(8) });
  assert.equal(h.toCoordinator.at(-1)!.type, "peer.bitfield");
  h.peer().send({ type: "interest", value: true });
  assert.deepEqual(h.commands.at(-1), { type: "interested" });
  h.link({ type: "link.unchoked" });
  assert.equal(h.state(), '{"connected":"downloading"}');
  assert.equal(h.toCoordinator.at(-1)!.type, "peer.ready");
  h.stop();
});

Deno.test("peer machine, once failed, has stopped its link, told its parent once, and sent no event naming it", () => {
  const h = harness();
  h.link({ type: "link.connected" });
  h.peer().send({ type: "close" });
  assert.equal(h.state(), '"failed"');
  assert(h.linkStopped(), "the connection is closed at once, as a final state would");
  h.peer().send({ type: "close" });
  h.peer().send({ type: "ban", reason: "banned" });
  h.link({ type: "link.closed", reason: "late" });
  assert.deepEqual(h.closed.map((e) => e.reason), ["closed by us"], "told once");
  assert.deepEqual(h.toCoordinator.map((e) => e.type), ["peer.gone"]);
  // A final state would send the parent `xstate.done.actor.<id>` (here `peer`, in the swarm the peer's address):
  // XState keeps what it looked up for every event type a machine meets, so the swarm would keep one entry for
  // every peer that ever connected from a new port.
  assert.deepEqual(h.heard, ["peer.closed"]);
  h.stop();
});

Deno.test("peer machine drops a second connection to a peer already connected, at its handshake, never saying hello", () => {
  const h = harness({}, (id) => id === "ab");
  h.link({ type: "link.connected" });
  h.link({ type: "link.handshaken", peerId: "ab", client: "TR3000", transport: "plain", via: "tcp" });
  assert.equal(h.state(), '"failed"');
  assert.deepEqual(h.toCoordinator.map((e) => e.type), ["peer.gone"]);
  assert.deepEqual(h.closed, [{
    type: "peer.closed",
    key: "127.0.0.1:7000",
    reason: "already connected to this peer",
    handshaken: false,
    pieces: 0,
  }]);
  const other = harness({}, (id) => id === "ab");
  other.link({ type: "link.connected" });
  other.link({ type: "link.handshaken", peerId: "cd", client: "TR3000", transport: "plain", via: "tcp" });
  assert.equal(other.state(), '{"connected":"choked"}', "another peer is welcome");
  h.stop();
  other.stop();
});

Deno.test("peer machine passes assigned pieces to its link and whole pieces to the coordinator", () => {
  const h = harness();
  h.link({ type: "link.connected" });
  h.link({ type: "link.handshaken", peerId: "ab", client: "TR3000", transport: "plain", via: "tcp" });
  h.link({ type: "link.unchoked" });
  h.peer().send({ type: "assign", indices: [3, 4, 5] });
  assert.deepEqual(h.commands.at(-1), { type: "fetch", indices: [3, 4, 5] });
  const pieces = [{ index: 3, data: new Uint8Array(16384) }, { index: 4, data: new Uint8Array(16384) }];
  h.link({ type: "link.pieces", pieces, want: 5 });
  assert.deepEqual(h.toCoordinator.at(-1), { type: "peer.pieces", key: "127.0.0.1:7000", pieces, want: 5 });
  h.peer().send({ type: "cancel", index: 5 });
  assert.deepEqual(h.commands.at(-1), { type: "cancel", index: 5 });
  h.stop();
});

Deno.test("peer machine goes back to choked on choke and tells the coordinator to take its pieces back", () => {
  const h = harness();
  h.link({ type: "link.connected" });
  h.link({ type: "link.handshaken", peerId: "ab", client: "TR3000", transport: "plain", via: "tcp" });
  h.link({ type: "link.unchoked" });
  h.link({ type: "link.choked" });
  assert.equal(h.state(), '{"connected":"choked"}');
  assert.equal(h.toCoordinator.at(-1)!.type, "peer.choked");
  h.stop();
});

Deno.test("peer machine fails when the link closes, telling the coordinator and its parent why", () => {
  const h = harness();
  h.link({ type: "link.connected" });
  h.link({ type: "link.handshaken", peerId: "ab", client: "TR3000", transport: "plain", via: "tcp" });
  h.link({ type: "link.unchoked" });
  h.link({ type: "link.pieces", pieces: [{ index: 1, data: new Uint8Array(1) }], want: 5 });
  h.link({ type: "link.closed", reason: "peer closed the connection" });
  assert.equal(h.peer().getSnapshot().value, "failed");
  assert.equal(h.toCoordinator.at(-1)!.type, "peer.gone");
  assert.deepEqual(h.closed, [{
    type: "peer.closed",
    key: "127.0.0.1:7000",
    reason: "peer closed the connection",
    handshaken: true,
    pieces: 1,
  }]);
  h.stop();
});

Deno.test("peer machine fails a stalled download and a ban", () => {
  const a = harness();
  a.link({ type: "link.connected" });
  a.link({ type: "link.handshaken", peerId: "ab", client: "x", transport: "plain", via: "tcp" });
  a.link({ type: "link.unchoked" });
  a.link({ type: "link.stalled" });
  assert.equal(a.closed[0].reason, "stalled: requests unanswered");
  a.stop();
  const b = harness();
  b.link({ type: "link.connected" });
  b.peer().send({ type: "ban", reason: "banned after 3 corrupt pieces" });
  assert.deepEqual([b.closed[0].reason, b.closed[0].handshaken], ["banned after 3 corrupt pieces", false]);
  b.stop();
});

Deno.test("peer machine times out a connect that never completes", async () => {
  const h = harness({ connectMs: 20 });
  await new Promise((r) => setTimeout(r, 60));
  assert.equal(h.peer().getSnapshot().value, "failed");
  assert.equal(h.closed[0].reason, "connect timed out");
  h.stop();
});

Deno.test("peer machine keeps a peer that chokes us while it wants our pieces, and drops one that wants nothing", async () => {
  const handshake = {
    type: "link.handshaken",
    peerId: "ab",
    client: "TR3000",
    transport: "plain",
    via: "tcp",
  } as const;
  const leecher = harness({ chokedMs: 20 });
  leecher.link({ type: "link.connected" });
  leecher.link(handshake);
  leecher.link({ type: "link.interest", value: true }); // a leecher of ours: it chokes us as a rule
  const idle = harness({ chokedMs: 20 });
  idle.link({ type: "link.connected" });
  idle.link(handshake);
  await new Promise((r) => setTimeout(r, 90));
  assert.equal(leecher.state(), '{"connected":"choked"}', "still served after several time-outs");
  assert.deepEqual(leecher.closed, []);
  assert.equal(idle.state(), '"failed"');
  assert.equal(idle.closed[0].reason, "choked us for 0.02 s");
  // Once it wants nothing more, the next time-out ends it.
  leecher.link({ type: "link.interest", value: false });
  await new Promise((r) => setTimeout(r, 40));
  assert.equal(leecher.state(), '"failed"');
  leecher.stop();
  idle.stop();
});

Deno.test("peer machine keeps the link's bitfield: PEX tells the peer's listen address, as a seed once it has all", () => {
  const h = harness();
  h.link({ type: "link.connected" });
  h.link({ type: "link.handshaken", peerId: "ab", client: "TR3000", transport: "plain", via: "tcp" });
  const bits = new Bitfield(8);
  h.link({ type: "link.bitfield", bitfield: bits });
  assert.deepEqual(listenAddress(h.peer().getSnapshot().context), { host: "127.0.0.1", port: 7000 });
  for (let i = 0; i < 8; i++) bits.set(i); // its haves, as the link records them
  assert.deepEqual(listenAddress(h.peer().getSnapshot().context), {
    host: "127.0.0.1",
    port: 7000,
    seed: true,
  });
  h.stop();
});
