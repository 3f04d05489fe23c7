/**
 * The CLI's DHT options: on by default, joining through the well-known routers; `--dht-bootstrap host:port`
 * (repeatable) replaces them, `--no-dht` turns the DHT off. A run that would contact the default routers while
 * `ACTORRENT_NO_DEFAULT_ROUTERS` is set (the test kit sets it) stops with one line instead, so no test or bench
 * run reaches outside the machine by mistake.
 *
 * @module
 */

import type { PeerAddress } from "../src/common/peer_address.ts";

/** The routers every Mainline DHT client knows. */
export const DEFAULT_ROUTERS: PeerAddress[] = [
  { host: "router.bittorrent.com", port: 6881 },
  { host: "dht.transmissionbt.com", port: 6881 },
  { host: "router.utorrent.com", port: 6881 },
  { host: "dht.libtorrent.org", port: 25401 },
];

/** Set in the environment, a run that would use the default routers is refused. */
export const NO_DEFAULT_ROUTERS = "ACTORRENT_NO_DEFAULT_ROUTERS";

/** The `dht` option of a download from the CLI's flags; throws when the default routers are forbidden here. */
export function dhtOption(
  noDht: boolean | undefined,
  bootstrap: PeerAddress[],
): { bootstrap: PeerAddress[] } | undefined {
  if (noDht) return undefined;
  if (bootstrap.length > 0) return { bootstrap };
  if (Deno.env.get(NO_DEFAULT_ROUTERS)) {
    throw new Error(
      `this run would contact the DHT's default routers, and ${NO_DEFAULT_ROUTERS} is set: pass --dht-bootstrap or --no-dht`,
    );
  }
  return { bootstrap: DEFAULT_ROUTERS };
}
