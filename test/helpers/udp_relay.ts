/**
 * A UDP relay on 127.0.0.1 that loses, duplicates, delays and reorders packets: uTP between two real processes,
 * over a bad path. Packets to the relay's port go on to `target` from one socket per sender, and the answers come
 * back the same way, each through the same faults.
 */

import dgram from "node:dgram";
import type { PathFaults } from "./utp_pair.ts";
import { faultyPath, seeded } from "./utp_pair.ts";

/** A running relay. */
export interface UdpRelay {
  port: number;
  counts: { relayed: number; lost: number; duplicated: number };
  close(): void;
}

/** Starts a relay in front of `target` (a UDP port on 127.0.0.1). */
export async function udpRelay(target: number, faults: PathFaults = {}, seed = 1): Promise<UdpRelay> {
  const counts = { relayed: 0, lost: 0, duplicated: 0 };
  const path = faultyPath(faults, seeded(seed), counts);
  const front = dgram.createSocket("udp4");
  const backs = new Map<string, dgram.Socket>();
  let closed = false;
  const pass = (packet: Uint8Array, send: (p: Uint8Array) => void) =>
    path.pass(packet, (copy) => {
      if (closed) return;
      counts.relayed++;
      send(copy);
    });
  front.on("message", (packet: Uint8Array, from: { address: string; port: number }) => {
    const key = `${from.address}:${from.port}`;
    let back = backs.get(key);
    if (!back) {
      const socket = dgram.createSocket("udp4");
      socket.on("message", (answer: Uint8Array) => {
        pass(answer, (p) => front.send(p, from.port, from.address));
      });
      socket.bind(0, "127.0.0.1");
      backs.set(key, back = socket);
    }
    const b = back;
    pass(packet, (p) => b.send(p, target, "127.0.0.1"));
  });
  await new Promise<void>((resolve) => front.bind(0, "127.0.0.1", resolve));
  return {
    port: front.address().port,
    counts,
    close() {
      closed = true;
      for (const t of path.timers) clearTimeout(t);
      for (const s of [front, ...backs.values()]) {
        try {
          s.close();
        } catch { /* closed */ }
      }
    },
  };
}
