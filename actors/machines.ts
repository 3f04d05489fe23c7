/** Every state machine of the client, by name: what `deno task viz` draws and the live view shows. @module */

import { coordinatorMachine } from "./coordinator.ts";
import { peerMachine } from "./peer.ts";
import { torrentMachine } from "./torrent.ts";

export const MACHINES = {
  torrent: torrentMachine,
  coordinator: coordinatorMachine,
  peer: peerMachine,
} as const;
