/**
 * Incoming connections: the listening socket, bound once per torrent on the requested port or the next free one,
 * and an actor that hands each accepted connection to the supervisor as `peer.incoming`.
 *
 * @module
 */

import { type EventObject, fromCallback } from "xstate";

/** Binds `port`, or the next free port up to `port + 99`, or any free port: the one we got is the one announced. */
export function bindListener(port: number, hostname = "0.0.0.0"): Deno.TcpListener {
  for (let p = port; p < Math.min(port + 100, 65536); p++) {
    try {
      return Deno.listen({ hostname, port: p });
    } catch (e) {
      if (!(e instanceof Deno.errors.AddrInUse)) throw e;
    }
  }
  return Deno.listen({ hostname, port: 0 });
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
