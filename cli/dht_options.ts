/**
 * The CLI's DHT options: on by default, joining through the well-known routers; `--dht-bootstrap host:port`
 * (repeatable) replaces them, `--no-dht` turns the DHT off. A run that would contact the default routers while
 * `ACTORRENT_NO_DEFAULT_ROUTERS` is set (the test kit sets it) stops with one line instead, so no test or bench
 * run reaches outside the machine by mistake. The routing table is kept between runs in the user's cache folder
 * (`$ACTORRENT_CACHE_DIR/dht.json`, else `$XDG_CACHE_HOME/actorrent/dht.json`, `~/.cache/…` or
 * `%LOCALAPPDATA%\actorrent\…`): a damaged or foreign
 * file is ignored with one line.
 *
 * @module
 */

import type { DhtOptions } from "../actors/dht.ts";
import type { PeerAddress } from "../src/common/peer_address.ts";
import { decodeSavedNodes, encodeSavedNodes, type SavedNodes } from "../src/dht/saved_nodes.ts";

/** The routers every Mainline DHT client knows. */
export const DEFAULT_ROUTERS: PeerAddress[] = [
  { host: "router.bittorrent.com", port: 6881 },
  { host: "dht.transmissionbt.com", port: 6881 },
  { host: "router.utorrent.com", port: 6881 },
  { host: "dht.libtorrent.org", port: 25401 },
];

/** Our cache folder, when set: the test kit points it at a folder of its own. */
export const CACHE_DIR = "ACTORRENT_CACHE_DIR";

/** Set in the environment, a run that would use the default routers is refused. */
export const NO_DEFAULT_ROUTERS = "ACTORRENT_NO_DEFAULT_ROUTERS";

/** Where the routing table is kept between runs, or undefined when there is no cache folder to use. */
export function dhtCachePath(): string | undefined {
  const env = (name: string) => Deno.env.get(name) || undefined;
  const own = env(CACHE_DIR);
  if (own) return `${own}/dht.json`;
  const base = env("XDG_CACHE_HOME") ?? (env("HOME") && `${env("HOME")}/.cache`) ?? env("LOCALAPPDATA");
  return base && `${base}/actorrent/dht.json`;
}

/** The table an earlier run saved at `path`, if any; a damaged or foreign file is ignored with one line. */
function loadSaved(path: string): SavedNodes | undefined {
  let text: string;
  try {
    text = Deno.readTextFileSync(path);
  } catch {
    return undefined; // none yet, or unreadable: start from the bootstrap nodes
  }
  try {
    return decodeSavedNodes(text);
  } catch (e) {
    console.error(`warning: ignoring the saved DHT table ${path}: ${(e as Error).message}`);
    return undefined;
  }
}

/** Saves the table for the next run: written beside and renamed, so a crash leaves the old one whole. */
function save(path: string, saved: SavedNodes): void {
  try {
    Deno.mkdirSync(path.slice(0, path.lastIndexOf("/")), { recursive: true });
    Deno.writeTextFileSync(`${path}.tmp`, encodeSavedNodes(saved));
    Deno.renameSync(`${path}.tmp`, path);
  } catch { /* a cache: the next run starts from the bootstrap nodes */ }
}

/** The `dht` option of a download from the CLI's flags; throws when the default routers are forbidden here. */
export function dhtOption(
  noDht: boolean | undefined,
  bootstrap: PeerAddress[],
  cachePath: string | undefined = dhtCachePath(),
): DhtOptions | undefined {
  if (noDht) return undefined;
  if (bootstrap.length === 0 && Deno.env.get(NO_DEFAULT_ROUTERS)) {
    throw new Error(
      `this run would contact the DHT's default routers, and ${NO_DEFAULT_ROUTERS} is set: pass --dht-bootstrap or --no-dht`,
    );
  }
  const options: DhtOptions = { bootstrap: bootstrap.length > 0 ? bootstrap : DEFAULT_ROUTERS };
  if (!cachePath) return options;
  return { ...options, saved: loadSaved(cachePath), onStop: (saved) => save(cachePath, saved) };
}
