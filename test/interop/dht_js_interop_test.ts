/**
 * DHT interop with a second implementation, the pure-JS `bittorrent-dht` (webtorrent's), all on 127.0.0.1: our
 * node is its bootstrap node and answers its queries; a peer it announces, our node finds, and a peer we announce,
 * it finds.
 */

import assert from "node:assert/strict";
import DHT from "bittorrent-dht";
import { type AnyActorRef, createActor, setup } from "xstate";
import { dhtMachine, type DhtReport } from "../../actors/dht.ts";
import type { PeerAddress } from "../../src/common/peer_address.ts";
import { randomId } from "../../src/dht/node_id.ts";
import { toHex } from "../../src/common/bytes.ts";

type JsDht = {
  listen(port: number, host: string, cb: () => void): void;
  on(event: string, cb: (...args: unknown[]) => void): void;
  announce(infoHash: string, port: number, cb: (err?: Error) => void): void;
  lookup(infoHash: string, cb?: (err?: Error) => void): void;
  address(): { port: number };
  destroy(cb?: () => void): void;
};

function jsDht(bootstrap: string[]): JsDht {
  // host: false lets loopback addresses into its table (it filters non-routable ones by default for safety).
  return new (DHT as unknown as new (o: unknown) => JsDht)({ bootstrap, host: false });
}

async function until(what: () => boolean, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!what()) {
    if (Date.now() > end) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 20));
  }
}

Deno.test({
  name: "DHT: bittorrent-dht joins through our node; each finds the peer the other announced",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const reports: DhtReport[] = [];
    const parent = createActor(
      setup({ actors: { dht: dhtMachine } }).createMachine({
        invoke: {
          id: "dht",
          src: "dht",
          input: { port: 0, host: "127.0.0.1", bootstrap: [], queryTimeoutMs: 1000 },
        },
        on: { "*": { actions: ({ event }) => reports.push(event as DhtReport) } },
      }),
    );
    parent.start();
    const ours = parent.getSnapshot().children.dht as AnyActorRef;
    const started: JsDht[] = [];
    try {
      await until(() => ours.getSnapshot().value === "ready");
      const node = ours.getSnapshot().context.node;
      const via = `127.0.0.1:${ours.getSnapshot().context.port}`;
      // Each joins through our node only: its list of public routers is replaced by this one address.
      const join = async () => {
        const js = jsDht([via]);
        started.push(js);
        await new Promise<void>((r) => js.listen(0, "127.0.0.1", r));
        await new Promise<void>((r) => js.on("ready", () => r()));
        return js;
      };
      const a = await join(), b = await join();
      await until(() => node.table.size >= 2);
      assert.equal(node.stats.malformed, 0, `${via}: every packet of theirs was well-formed KRPC to us`);

      // bittorrent-dht announces; our node's lookup finds it.
      const theirs = randomId();
      const theirsHex = toHex(theirs);
      await new Promise<void>((resolve, reject) =>
        a.announce(theirsHex, 4001, (e) => e ? reject(e) : resolve())
      );
      ours.send({ type: "dht.lookup", infoHash: theirs });
      await until(() => reports.some((r) => r.type === "dht.peers" && r.peers.some((p) => p.port === 4001)));

      // We announce; bittorrent-dht's lookup finds us.
      const mine = randomId();
      const mineHex = toHex(mine);
      ours.send({ type: "dht.lookup", infoHash: mine, announcePort: 5002 });
      await until(() => Object.keys(ours.getSnapshot().children).every((k) => !k.startsWith("lookup-")));
      const found: PeerAddress[] = [];
      b.on("peer", (peer, infoHash) => {
        const p = peer as { host: string; port: number };
        // bittorrent-dht gives the infohash as a Node Buffer.
        if ((infoHash as { toString(encoding: string): string }).toString("hex") === mineHex) found.push(p);
      });
      b.lookup(mineHex);
      await until(() => found.some((p) => p.port === 5002));
    } finally {
      await Promise.all(started.map((js) => new Promise<void>((r) => js.destroy(() => r()))));
      parent.stop();
    }
  },
});
