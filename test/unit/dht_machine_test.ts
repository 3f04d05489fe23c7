/**
 * The DHT actor over real UDP sockets on 127.0.0.1 only: a router, a node that announces an infohash and one
 * that looks it up. Every socket is closed when its actor stops.
 */

import assert from "node:assert/strict";
import { type AnyActorRef, createActor, setup } from "xstate";
import { type DhtInput, dhtMachine, type DhtReport } from "../../actors/dht.ts";
import { randomId } from "../../src/dht/node_id.ts";

function start(input: Partial<DhtInput> & { bootstrap: DhtInput["bootstrap"] }) {
  const reports: DhtReport[] = [];
  const parent = createActor(
    setup({ actors: { dht: dhtMachine } }).createMachine({
      invoke: { id: "dht", src: "dht", input: { port: 0, host: "127.0.0.1", queryTimeoutMs: 500, ...input } },
      on: { "*": { actions: ({ event }) => reports.push(event as DhtReport) } },
    }),
  );
  parent.start();
  const dht = parent.getSnapshot().children.dht as AnyActorRef;
  return {
    dht,
    reports,
    port: () => dht.getSnapshot().context.port as number | undefined,
    state: () => dht.getSnapshot().value as string,
    stop: () => parent.stop(),
  };
}

async function until(what: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!what()) {
    if (Date.now() > end) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 10));
  }
}

Deno.test("DHT actor: nodes on 127.0.0.1 join through a router, and a lookup finds the peer another announced", async () => {
  const router = start({ bootstrap: [] });
  const actors = [router];
  try {
    await until(() => router.state() === "ready");
    const via = [{ host: "127.0.0.1", port: router.port()! }];
    const seeder = start({ bootstrap: via });
    const leecher = start({ bootstrap: via });
    actors.push(seeder, leecher);
    await until(() => seeder.state() === "ready" && leecher.state() === "ready");
    assert(seeder.reports.some((r) => r.type === "dht.ready" && r.nodes >= 1), "the seeder knows the router");

    const infoHash = randomId();
    seeder.dht.send({ type: "dht.lookup", infoHash, announcePort: 7777 });
    await until(() => Object.keys(seeder.dht.getSnapshot().children).every((k) => !k.startsWith("lookup-")));
    leecher.dht.send({ type: "dht.lookup", infoHash });
    await until(() => leecher.reports.some((r) => r.type === "dht.peers"));
    const found = leecher.reports.find((r) => r.type === "dht.peers");
    assert.deepEqual(found, { type: "dht.peers", infoHash, peers: [{ host: "127.0.0.1", port: 7777 }] });
    assert.equal(leecher.dht.getSnapshot().context.peersFound, 1);
    assert(router.dht.getSnapshot().context.node.store.size >= 1, "the router stored the announce");
  } finally {
    for (const a of actors) a.stop();
  }
});

Deno.test("DHT actor: a port that cannot be bound fails in one line", async () => {
  const first = start({ bootstrap: [] });
  try {
    await until(() => first.port() !== undefined);
    const second = start({ bootstrap: [], port: first.port()! });
    await until(() => second.state() === "failed");
    const failed = second.reports.find((r) => r.type === "dht.failed");
    assert.equal(failed?.type === "dht.failed" && failed.error, `DHT: UDP port ${first.port()} is in use`);
    second.stop();
  } finally {
    first.stop();
  }
});
