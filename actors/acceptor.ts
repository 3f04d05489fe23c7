/**
 * The torrent's sockets and incoming connections: the TCP listener, bound once per torrent on the requested port
 * or the next free one; the UDP port of the same number that the DHT and uTP share; the uTP endpoint on it; and an
 * actor that hands each connection a peer opened (over TCP or uTP) to the supervisor as `peer.incoming`, once it
 * has sent its first bytes.
 *
 * @module
 */

import { type EventObject, fromCallback } from "xstate";
import type { ByteStream } from "../src/common/byte_stream.ts";
import { unmapped } from "../src/common/peer_address.ts";
import { UdpPort } from "../src/common/udp_port.ts";
import { UtpEndpoint } from "../src/utp/endpoint.ts";
import { FirstBytes, type SilentCounts } from "../src/peer/first_bytes.ts";

/** Binds `port`, or the next free port up to `port + 99`, or any free port: the one we got is the one announced. */
export function bindListener(port: number, hostname?: string): Deno.TcpListener {
  // By default both IPv6 and IPv4 (`[::]`, which takes IPv4 too where the system allows), else IPv4 alone.
  let host = hostname ?? "::";
  for (let p = port; p < Math.min(port + 100, 65536); p++) {
    try {
      return Deno.listen({ hostname: host, port: p });
    } catch (e) {
      if (e instanceof Deno.errors.AddrInUse) continue;
      if (hostname !== undefined || host === "0.0.0.0") throw e;
      host = "0.0.0.0"; // no IPv6 here
      p--;
    }
  }
  return Deno.listen({ hostname: host, port: 0 });
}

/** A torrent's sockets: what it listens on, and what it dials uTP through. */
export interface TorrentSockets {
  listener?: Deno.TcpListener;
  /** The UDP port (the listener's number) shared by the DHT and uTP. */
  udp?: UdpPort;
  utp?: UtpEndpoint;
}

/**
 * Binds the listener (unless `listen` is false) and, when the DHT or uTP may run, the UDP port of the same number
 * on the same address (`::`, both families, when the listener has it; else IPv4). A UDP port already taken leaves
 * the torrent without it: no uTP, and the DHT binds its own or fails.
 */
export async function openSockets(
  port: number,
  listen: string | false | undefined,
  options: { udp: boolean; utp: boolean },
): Promise<TorrentSockets> {
  const listener = listen === false ? undefined : bindListener(port, listen);
  if (!listener || !options.udp) return { listener };
  const { hostname, port: bound } = listener.addr as Deno.NetAddr;
  const udp = await UdpPort.bind(bound, hostname).catch(() =>
    hostname === "::" ? UdpPort.bind(bound, "0.0.0.0").catch(() => undefined) : undefined
  );
  if (!udp || !options.utp) return { listener, udp };
  const utp = new UtpEndpoint({ send: (bytes, h, p) => udp.send(bytes, h, p) });
  udp.utp = (packet, host, port) => utp.receive(packet, host, port);
  return { listener, udp, utp };
}

/** Closes what `openSockets` opened. */
export function closeSockets(sockets: TorrentSockets): void {
  sockets.utp?.close();
  sockets.udp?.close();
  try {
    sockets.listener?.close();
  } catch { /* already closed */ }
}

/** A connection a peer opened to us, with its address (an IPv4 peer by its IPv4 address). */
export type AcceptorEvent = { type: "peer.incoming"; conn: ByteStream; host: string; port: number };

/**
 * What the acceptor takes: the sockets, how long a connection may stay silent (the handshake time-out), and
 * where to count the ones closed silent.
 */
export interface AcceptorInput extends TorrentSockets {
  silentMs?: number;
  counts?: SilentCounts;
}

/**
 * Accepts connections from `listener` and `utp` (if any) until stopped, and hands each on once it has sent its
 * first bytes: until then it is held outside the swarm (`FirstBytes`), so connections that never speak get no
 * peer actor. One accepted after the stop is closed at once.
 */
export const acceptor = fromCallback<EventObject, AcceptorInput, AcceptorEvent>(
  ({ input: { listener, utp, silentMs, counts }, sendBack }) => {
    let stopped = false;
    const waiting = new FirstBytes((conn, host, port) => {
      if (stopped) conn.close();
      else sendBack({ type: "peer.incoming", conn, host: unmapped(host), port });
    }, { timeoutMs: silentMs, counts });
    const incoming = (conn: ByteStream, host: string, port: number) => waiting.hold(conn, host, port);
    if (utp) utp.onAccept = (socket, host, port) => incoming(socket, host, port);
    (async () => {
      if (!listener) return; // this torrent accepts no TCP connections
      try {
        for await (const conn of listener) {
          const { hostname, port } = conn.remoteAddr as Deno.NetAddr;
          incoming(conn, hostname, port);
        }
      } catch { /* the listener was closed */ }
    })();
    return () => {
      stopped = true;
      waiting.stop();
      if (utp) utp.onAccept = undefined;
    };
  },
);
