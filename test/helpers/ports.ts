/** A TCP port on 127.0.0.1 that nothing listens on now: for a peer or tracker that refuses, or a port to use. */
export function unusedPort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close();
  return port;
}
