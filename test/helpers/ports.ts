/** Ports on 127.0.0.1 for tests: one nothing listens on, and waiting until something listens, or serves. */

import { UdpPort } from "../../src/common/udp_port.ts";
import { UtpEndpoint } from "../../src/utp/endpoint.ts";
import { encodeHandshake, HANDSHAKE_LENGTH } from "../../src/wire/wire.ts";

/** Closes each connection, whether or not the other side closed it already. */
export function closeAll(conns: Deno.Conn[]): void {
  for (const conn of conns) {
    try {
      conn.close();
    } catch { /* already closed */ }
  }
}

/** A TCP port on 127.0.0.1 that nothing listens on now: for a peer or tracker that refuses, or a port to use. */
export function unusedPort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close();
  return port;
}

/**
 * A free TCP port below the ephemeral range, for programs that keep it a while (real clients, our CLI): outgoing
 * connections take their source ports from the ephemeral range and could collide with one there.
 */
export function freePort(): number {
  for (;;) {
    const port = 20000 + Math.floor(Math.random() * 12000);
    try {
      Deno.listen({ hostname: "127.0.0.1", port }).close();
      return port;
    } catch { /* taken: try another */ }
  }
}

/** Resolves once something accepts TCP connections on 127.0.0.1:`port`; throws after `ms`. */
export async function waitForPort(port: number, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    try {
      (await Deno.connect({ hostname: "127.0.0.1", port })).close();
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error(`nothing listens on port ${port} after ${ms} ms`);
}

/** Resolves once a uTP SYN to `port` on 127.0.0.1 is answered (the connection is then closed). */
export async function waitForUtp(port: number, ms = 10_000): Promise<void> {
  const udp = await UdpPort.bind(0, "127.0.0.1");
  const endpoint = new UtpEndpoint({ send: (bytes, host, p) => udp.send(bytes, host, p) });
  udp.utp = (packet, host, port) => endpoint.receive(packet, host, port);
  try {
    const end = Date.now() + ms;
    while (Date.now() < end) {
      try {
        (await endpoint.connect("127.0.0.1", port, 500)).close();
        return;
      } catch {
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    throw new Error(`nothing answers uTP on port ${port} after ${ms} ms`);
  } finally {
    endpoint.close();
    udp.close();
  }
}

/** Resolves once a BitTorrent handshake to `port` is answered: the peer there is serving the torrent (a
 * port that is only listening, a client still checking its data, does not answer). */
export async function waitForHandshake(port: number, infoHash: Uint8Array, ms = 120_000): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    try {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      const close = () => closeAll([conn]);
      const timer = setTimeout(close, 2000);
      try {
        await conn.write(encodeHandshake(infoHash, crypto.getRandomValues(new Uint8Array(20))));
        const buf = new Uint8Array(HANDSHAKE_LENGTH);
        let got = 0, n;
        while (got < buf.length && (n = await conn.read(buf.subarray(got))) !== null) got += n;
        if (got === buf.length) return;
      } finally {
        clearTimeout(timer);
        close();
      }
    } catch { /* not listening yet */ }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`nothing answered a handshake on port ${port} in ${ms / 1000} s`);
}
