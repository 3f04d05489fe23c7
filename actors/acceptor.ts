/**
 * Incoming connections: the listening socket, bound once per torrent on the requested port or the next free one,
 * and an actor that hands each accepted connection to the supervisor as `peer.incoming`.
 *
 * @module
 */

import { type EventObject, fromCallback } from "xstate";

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

export type AcceptorEvent = { type: "peer.incoming"; conn: Deno.TcpConn };

/** Accepts connections from `listener` (if any) until stopped; one accepted after the stop is closed at once. */
export const acceptor = fromCallback<EventObject, { listener?: Deno.TcpListener }, AcceptorEvent>(
  ({ input: { listener }, sendBack }) => {
    let stopped = false;
    if (!listener) return; // this torrent accepts no connections
    (async () => {
      try {
        for await (const conn of listener) {
          if (stopped) conn.close();
          else sendBack({ type: "peer.incoming", conn });
        }
      } catch { /* the listener was closed */ }
    })();
    return () => {
      stopped = true;
    };
  },
);
