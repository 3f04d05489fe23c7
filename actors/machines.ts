/** Every state machine of the client, by name: what `deno task viz` draws and the live view shows. @module */

import { coordinatorMachine } from "./coordinator.ts";
import { dhtMachine, lookupMachine } from "./dht.ts";
import { magnetMachine } from "./magnet.ts";
import { peerMachine } from "./peer.ts";
import { swarmMachine } from "./swarm.ts";
import { torrentMachine } from "./torrent.ts";
import { webSeedMachine } from "./web_seed.ts";

/** The machines by name: the supervisor, its two phases' machines, the coordinator, a peer, a web seed, the DHT node and a DHT lookup. */
export const MACHINES = {
  torrent: torrentMachine,
  magnet: magnetMachine,
  swarm: swarmMachine,
  coordinator: coordinatorMachine,
  peer: peerMachine,
  webSeed: webSeedMachine,
  dht: dhtMachine,
  lookup: lookupMachine,
} as const;
