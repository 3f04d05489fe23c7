/** An in-process UDP tracker (BEP 15) on 127.0.0.1 for tests, with faults to exercise the client's retries. */

import dgram from "node:dgram";
import { encodeCompactPeers } from "../../src/common/peer_address.ts";
import { ACTION } from "../../src/tracker/udp_packets.ts";

export interface UdpTestTracker {
  url: string;
  /** Every packet received, as its action number. */
  received: number[];
  /** Announces that got an answer: event number and port. */
  announces: { event: number; port: number; left: bigint }[];
  close(): void;
}

export interface UdpFaults {
  /** Ignore this many packets first (the client must retransmit). */
  drop?: number;
  /** Before each real answer, send one with a wrong transaction id. */
  stray?: boolean;
  /** Answer announces with this error message. */
  error?: string;
}

export async function startUdpTracker(
  peers: { host: string; port: number }[],
  faults: UdpFaults = {},
  counts = { seeders: 3, completed: 7, leechers: 5 },
): Promise<UdpTestTracker> {
  const socket = dgram.createSocket("udp4");
  const received: number[] = [];
  const announces: UdpTestTracker["announces"] = [];
  const ids = new Set<bigint>();
  let drop = faults.drop ?? 0;
  socket.on("message", (msg: Uint8Array, from: { address: string; port: number }) => {
    const packet = new Uint8Array(msg);
    const v = new DataView(packet.buffer, packet.byteOffset, packet.byteLength);
    const action = v.getUint32(8);
    received.push(action);
    if (drop-- > 0) return;
    const tid = v.getUint32(12);
    const reply = (bytes: Uint8Array) => {
      if (faults.stray) {
        const wrong = bytes.slice();
        new DataView(wrong.buffer).setUint32(4, tid ^ 0xffff);
        socket.send(wrong, from.port, from.address);
      }
      socket.send(bytes, from.port, from.address);
    };
    const head = (a: number, size: number) => {
      const out = new Uint8Array(size);
      const w = new DataView(out.buffer);
      w.setUint32(0, a);
      w.setUint32(4, tid);
      return { out, w };
    };
    if (action === ACTION.connect && v.getBigUint64(0) === 0x41727101980n) {
      const { out, w } = head(ACTION.connect, 16);
      const id = crypto.getRandomValues(new BigUint64Array(1))[0];
      ids.add(id);
      w.setBigUint64(8, id);
      return reply(out);
    }
    const error = (message: string) => {
      const text = new TextEncoder().encode(message);
      const { out } = head(ACTION.error, 8 + text.length);
      out.set(text, 8);
      reply(out);
    };
    if (!ids.has(v.getBigUint64(0))) return error("unknown connection id");
    if (action === ACTION.announce) {
      if (faults.error) return error(faults.error);
      announces.push({ event: v.getUint32(80), port: v.getUint16(96), left: v.getBigUint64(64) });
      const { out, w } = head(ACTION.announce, 20 + 6 * peers.length);
      w.setUint32(8, 1800);
      w.setUint32(12, counts.leechers);
      w.setUint32(16, counts.seeders);
      out.set(encodeCompactPeers(peers, false), 20);
      return reply(out);
    }
    if (action === ACTION.scrape) {
      const n = (packet.length - 16) / 20;
      const { out, w } = head(ACTION.scrape, 8 + 12 * n);
      for (let i = 0; i < n; i++) {
        w.setUint32(8 + 12 * i, counts.seeders);
        w.setUint32(12 + 12 * i, counts.completed);
        w.setUint32(16 + 12 * i, counts.leechers);
      }
      return reply(out);
    }
  });
  await new Promise<void>((resolve) => socket.bind(0, "127.0.0.1", resolve));
  return {
    url: `udp://127.0.0.1:${socket.address().port}/announce`,
    received,
    announces,
    close: () => socket.close(),
  };
}
