/** A DHT node of our own on 127.0.0.1 for tests to bootstrap from: the router the public DHT would be. */

import { type AnyActorRef, createActor, setup } from "xstate";
import { dhtMachine } from "../../actors/dht.ts";
import type { DhtNode } from "../../src/dht/node.ts";

/** A running router: its address, its node (to look into its table and peer store) and how to stop it. */
export interface DhtRouter {
  address: { host: string; port: number };
  node: DhtNode;
  stop(): void;
}

/** Starts a DHT node on 127.0.0.1 (a free UDP port) that joins nothing: others join through it. */
export async function startDhtRouter(): Promise<DhtRouter> {
  const parent = createActor(
    setup({ actors: { dht: dhtMachine } }).createMachine({
      invoke: {
        id: "dht",
        src: "dht",
        input: { port: 0, host: "127.0.0.1", bootstrap: [], queryTimeoutMs: 500 },
      },
    }),
  );
  parent.start();
  const dht = parent.getSnapshot().children.dht as AnyActorRef;
  for (let i = 0; i < 500 && dht.getSnapshot().value !== "ready"; i++) {
    await new Promise((r) => setTimeout(r, 5));
  }
  const { port, node } = dht.getSnapshot().context as { port: number; node: DhtNode };
  return { address: { host: "127.0.0.1", port }, node, stop: () => parent.stop() };
}
