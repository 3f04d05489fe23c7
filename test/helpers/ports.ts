/** Ports on 127.0.0.1 for tests: one nothing listens on, and waiting until something does. */

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
