/**
 * One UDP socket shared by the DHT and uTP, as other clients share theirs: the same port number as the TCP
 * listener. A packet goes to the DHT when it starts with `d` (a bencoded dictionary), to uTP when its first byte is
 * a uTP version-1 type; anything else is dropped and counted.
 *
 * @module
 */

import dgram from "node:dgram";
import { unmapped } from "./peer_address.ts";

/** Where a packet came from. */
export interface UdpFrom {
  host: string;
  port: number;
}

/**
 * Deno's node:dgram allocates a buffer of `recvBufferSize` bytes for every datagram it receives (64 KiB by default;
 * doubled on Linux, as the kernel doubles SO_RCVBUF, which Deno leaves as it is) and silently cuts longer
 * datagrams to it. 1,536 bytes hold every DHT and uTP packet that fits a 1,500-byte path, at a fortieth of the
 * default's cost (a quarter less CPU than 4 KiB in a uTP download); one that fills it may have been cut short.
 */
const RECEIVE_BUFFER = 1536;

/** A bound UDP socket and who hears its packets. */
export class UdpPort {
  /** Hears DHT packets (KRPC). */
  dht?: (packet: Uint8Array, from: UdpFrom) => void;
  /** Hears uTP packets. */
  utp?: (packet: Uint8Array, host: string, port: number) => void;
  /** Packets nobody took, and packets too large for the receive buffer (cut short: never handed on). */
  dropped = 0;

  private constructor(readonly socket: dgram.Socket, readonly port: number) {
    socket.on("message", (packet: Uint8Array, rinfo: { address: string; port: number }) => {
      if (packet.length >= RECEIVE_BUFFER) return void this.dropped++; // maybe cut short: its end is lost
      const first = packet[0]; // a Buffer is a Uint8Array: handed on as it is
      const host = rinfo.address.startsWith("::ffff:") ? unmapped(rinfo.address) : rinfo.address;
      if (first === 0x64 && this.dht) this.dht(packet, { host, port: rinfo.port });
      else if ((first & 0x0f) === 1 && first >> 4 <= 4 && this.utp) {
        this.utp(packet, host, rinfo.port);
      } else this.dropped++;
    });
    socket.on("error", () => this.dropped++); // a failed send to one peer is not the port's end
  }

  /**
   * Binds `port` on `host` (default all IPv4 interfaces; `::` takes IPv6 and IPv4 both, IPv4 senders then known by
   * their IPv4 address); rejects with a one-line reason.
   */
  static bind(port: number, host = "0.0.0.0"): Promise<UdpPort> {
    const socket = dgram.createSocket({
      type: host.includes(":") ? "udp6" : "udp4",
      ipv6Only: false,
      recvBufferSize: Deno.build.os === "linux" ? RECEIVE_BUFFER / 2 : RECEIVE_BUFFER,
    });
    return new Promise((resolve, reject) => {
      const failed = (e: Error & { code?: string }) => {
        try {
          socket.close();
        } catch { /* never bound */ }
        reject(new Error(e.code === "EADDRINUSE" ? `UDP port ${port} is in use` : `UDP: ${e.message}`));
      };
      socket.once("error", failed);
      socket.bind(port, host, () => {
        socket.off("error", failed);
        resolve(new UdpPort(socket, socket.address().port));
      });
    });
  }

  /** Sends a packet; a failure is counted, not thrown (UDP promises nothing anyway). */
  send(bytes: Uint8Array, host: string, port: number): void {
    try {
      this.socket.send(bytes, port, host);
    } catch {
      this.dropped++;
    }
  }

  /** Closes the socket. */
  close(): void {
    this.dht = this.utp = undefined;
    try {
      this.socket.close();
    } catch { /* already closed */ }
  }
}
