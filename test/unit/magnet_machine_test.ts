/**
 * The magnet phase with its fetcher, tracker and tick faked through `.provide()`; the metadata is parsed for real.
 */

import assert from "node:assert/strict";
import { type AnyActorRef, createActor, fromCallback, setup } from "xstate";
import { type MagnetInput, magnetMachine } from "../../actors/magnet.ts";
import { parseMagnet } from "../../src/metainfo/magnet.ts";
import { AddressBook } from "../../src/swarm/address_book.ts";
import { UdpTrackerClient } from "../../src/tracker/udp_client.ts";
import { testTorrent } from "../helpers/make_torrent.ts";

const { meta } = await testTorrent({ size: 100_000, pieceLength: 16384, seed: 7 });

function harness(options: Partial<MagnetInput> = {}) {
  const offered: { host: string; port: number }[][] = [];
  const reports: { type: string; status: string }[] = [];
  let fetcher!: (e: { type: string; [k: string]: unknown }) => void;
  let tracker!: (e: { type: string; [k: string]: unknown }) => void;
  let tick!: () => void;
  const machine = magnetMachine.provide({
    actors: {
      metadata: fromCallback(({ sendBack, receive }) => {
        fetcher = sendBack;
        receive((e) => offered.push((e as unknown as { peers: { host: string; port: number }[] }).peers));
      }) as never,
      tracker: fromCallback(({ sendBack }) => {
        tracker = sendBack;
      }) as never,
      ticker: fromCallback(({ sendBack }) => {
        tick = () => sendBack({ type: "tick" });
      }) as never,
    },
  });
  const book = new AddressBook(6881);
  const input: MagnetInput = {
    magnet: parseMagnet(`magnet:?xt=urn:btih:${meta.infoHashHex}&tr=http://t/announce`),
    peerId: new Uint8Array(20),
    port: 6881,
    listening: true,
    book,
    trackers: { options: { udp: new UdpTrackerClient(), timeoutMs: 1000 }, announced: new Set<string>() },
    ...options,
  };
  const parent = createActor(
    setup({ actors: { magnet: machine } }).createMachine({
      invoke: { id: "magnet", src: "magnet", input },
      on: { "*": { actions: ({ event }) => reports.push(event as never) } },
    }),
  );
  parent.start();
  const actor = parent.getSnapshot().children.magnet as AnyActorRef;
  return {
    actor,
    book,
    offered,
    reports,
    fetcher: (e: { type: string; [k: string]: unknown }) => fetcher(e),
    tracker: (e: { type: string; [k: string]: unknown }) => tracker(e),
    tick: () => tick(),
    until: async (state: string) => {
      for (let i = 0; i < 100 && actor.getSnapshot().value !== state; i++) {
        await new Promise((r) => setTimeout(r, 1));
      }
      assert.equal(actor.getSnapshot().value, state);
    },
  };
}

Deno.test("magnet machine puts tracker and PEX peers in the book and offers them to the fetcher", () => {
  const h = harness();
  h.tracker({ type: "tracker.peers", peers: [{ host: "10.0.0.1", port: 1 }], tracker: "http://t/announce" });
  h.fetcher({ type: "metadata.peers", peers: [{ host: "10.0.0.2", port: 2 }] });
  assert.equal(h.book.entries.get("10.0.0.1:1")?.source, "tracker");
  assert.equal(h.book.entries.get("10.0.0.2:2")?.source, "pex");
  assert.deepEqual(h.offered.at(-1), [{ host: "10.0.0.1", port: 1 }, { host: "10.0.0.2", port: 2 }]);
});

Deno.test("magnet machine outputs the torrent its metadata makes", async () => {
  const h = harness();
  h.fetcher({ type: "metadata.done", info: meta.rawInfo });
  await h.until("done");
  const out = h.actor.getSnapshot().output!;
  assert.equal(out.meta?.infoHashHex, meta.infoHashHex);
  assert.deepEqual(out.meta?.trackers, [["http://t/announce"]], "the magnet link's trackers come along");
});

Deno.test("magnet machine fails when the metadata is not a torrent, and when no peer has it in time", async () => {
  const bad = harness();
  bad.fetcher({ type: "metadata.done", info: new TextEncoder().encode("d4:name1:xe") });
  await bad.until("failed");
  assert.match(bad.actor.getSnapshot().output!.error!, /^the metadata peers sent is not a valid torrent: /);

  const slow = harness({ noPeersTimeoutMs: 20 });
  slow.fetcher({ type: "metadata.progress", connected: 1, withMetadata: 0, pieces: 0, received: 0 });
  slow.tick();
  assert.equal(slow.actor.getSnapshot().value, "fetching");
  await new Promise((r) => setTimeout(r, 30));
  slow.tracker({ type: "tracker.error", message: "refused" });
  slow.tick();
  assert.equal(slow.actor.getSnapshot().value, "failed");
  assert.equal(
    slow.actor.getSnapshot().output!.error,
    "no peer sent the metadata in 0 s (last tracker error: refused)",
  );
});

Deno.test("magnet machine: a peer with the metadata keeps the phase alive", async () => {
  const h = harness({ noPeersTimeoutMs: 20 });
  await new Promise((r) => setTimeout(r, 30));
  h.fetcher({ type: "metadata.progress", connected: 2, withMetadata: 1, pieces: 3, received: 1 });
  h.tick();
  assert.equal(h.actor.getSnapshot().value, "fetching");
  assert.deepEqual(h.reports.at(-1), {
    type: "magnet.metadata",
    status: "2 peers, 1 with metadata, 1/3 pieces",
  });
});
