/**
 * The UDP tracker protocol of BEP 15, as pure byte formats. Every packet's layout is written beside its encoder;
 * all integers are big-endian.
 *
 *   connect request   <protocol_id:8=0x41727101980><action:4=0><transaction_id:4>
 *   connect response  <action:4=0><transaction_id:4><connection_id:8>
 *   announce request  <connection_id:8><action:4=1><transaction_id:4><info_hash:20><peer_id:20><downloaded:8>
 *                     <left:8><uploaded:8><event:4><ip:4=0><key:4><num_want:4><port:2>
 *   announce response <action:4=1><transaction_id:4><interval:4><leechers:4><seeders:4>(<ip:4|16><port:2>)*
 *   scrape request    <connection_id:8><action:4=2><transaction_id:4>(<info_hash:20>)*
 *   scrape response   <action:4=2><transaction_id:4>(<seeders:4><completed:4><leechers:4>)*
 *   error             <action:4=3><transaction_id:4><message>
 *
 * @module
 */

import { decodeCompactPeers } from "../common/peer_address.ts";
import type { AnnounceParams, AnnounceResponse, ScrapeCounts } from "./types.ts";

export const ACTION = { connect: 0, announce: 1, scrape: 2, error: 3 } as const;

const PROTOCOL_ID = 0x41727101980n;
const EVENTS = { none: 0, completed: 1, started: 2, stopped: 3 } as const;

/** A decoded tracker packet, or `undefined` for one that is too short to be anything. */
export type UdpReply =
  | { action: "connect"; transactionId: number; connectionId: bigint }
  | { action: "announce"; transactionId: number; response: AnnounceResponse }
  | { action: "scrape"; transactionId: number; counts: ScrapeCounts[] }
  | { action: "error"; transactionId: number; message: string };

export function encodeConnect(transactionId: number): Uint8Array {
  const out = new Uint8Array(16);
  const v = new DataView(out.buffer);
  v.setBigUint64(0, PROTOCOL_ID);
  v.setUint32(8, ACTION.connect);
  v.setUint32(12, transactionId);
  return out;
}

export function encodeAnnounce(
  connectionId: bigint,
  transactionId: number,
  params: AnnounceParams,
  key: number,
): Uint8Array {
  const out = new Uint8Array(98);
  const v = new DataView(out.buffer);
  v.setBigUint64(0, connectionId);
  v.setUint32(8, ACTION.announce);
  v.setUint32(12, transactionId);
  out.set(params.infoHash, 16);
  out.set(params.peerId, 36);
  v.setBigUint64(56, BigInt(params.downloaded));
  v.setBigUint64(64, BigInt(params.left));
  v.setBigUint64(72, BigInt(params.uploaded));
  v.setUint32(80, EVENTS[params.event ?? "none"]);
  v.setUint32(84, 0); // ip: the tracker uses the packet's source address
  v.setUint32(88, key);
  v.setInt32(92, params.numwant ?? 80);
  v.setUint16(96, params.port);
  return out;
}

export function encodeScrape(
  connectionId: bigint,
  transactionId: number,
  infoHashes: Uint8Array[],
): Uint8Array {
  const out = new Uint8Array(16 + 20 * infoHashes.length);
  const v = new DataView(out.buffer);
  v.setBigUint64(0, connectionId);
  v.setUint32(8, ACTION.scrape);
  v.setUint32(12, transactionId);
  infoHashes.forEach((hash, i) => out.set(hash, 16 + 20 * i));
  return out;
}

/** Decodes a packet from a UDP tracker; peers are IPv6 when the tracker was reached over IPv6. */
export function decodeReply(packet: Uint8Array, ipv6: boolean): UdpReply | undefined {
  if (packet.length < 8) return undefined;
  const v = new DataView(packet.buffer, packet.byteOffset, packet.byteLength);
  const action = v.getUint32(0);
  const transactionId = v.getUint32(4);
  switch (action) {
    case ACTION.connect:
      if (packet.length < 16) return undefined;
      return { action: "connect", transactionId, connectionId: v.getBigUint64(8) };
    case ACTION.announce:
      if (packet.length < 20) return undefined;
      return {
        action: "announce",
        transactionId,
        response: {
          interval: Math.max(v.getUint32(8), 1),
          incomplete: v.getUint32(12),
          complete: v.getUint32(16),
          peers: decodeCompactPeers(packet.subarray(20), ipv6),
        },
      };
    case ACTION.scrape: {
      const counts: ScrapeCounts[] = [];
      for (let at = 8; at + 12 <= packet.length; at += 12) {
        counts.push({
          seeders: v.getUint32(at),
          completed: v.getUint32(at + 4),
          leechers: v.getUint32(at + 8),
        });
      }
      return { action: "scrape", transactionId, counts };
    }
    case ACTION.error:
      return {
        action: "error",
        transactionId,
        message: new TextDecoder().decode(packet.subarray(8)).replace(/[\0\s]+$/, ""),
      };
    default:
      return undefined;
  }
}
