/**
 * A TCP relay that delays every byte by `delayMs` in each direction, so peers on loopback behave as if they were
 * 2 × delayMs of round trip away (this kernel has no netem). Order is kept; throughput is not limited.
 */

export interface DelayProxy {
  port: number;
  close(): void;
}

export function startDelayProxy(target: number, delayMs: number): DelayProxy {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns = new Set<Deno.Conn>();
  const pipe = async (from: Deno.Conn, to: Deno.Conn) => {
    let chain = Promise.resolve();
    const buf = new Uint8Array(256 * 1024);
    try {
      for (;;) {
        const n = await from.read(buf);
        if (n === null) break;
        const chunk = buf.slice(0, n);
        const due = Date.now() + delayMs;
        chain = chain.then(async () => {
          const wait = due - Date.now();
          if (wait > 0) await new Promise((r) => setTimeout(r, wait));
          for (let at = 0; at < chunk.length;) at += await to.write(chunk.subarray(at));
        }).catch(() => {
          try {
            from.close(); // the other side is gone: so is this one
          } catch { /* closed already */ }
        });
      }
      await chain;
    } catch { /* either side closed */ }
    try {
      to.close();
    } catch { /* closed */ }
  };
  (async () => {
    try {
      for await (const client of listener) {
        Deno.connect({ hostname: "127.0.0.1", port: target }).then((server) => {
          conns.add(client).add(server);
          pipe(client, server);
          pipe(server, client);
        }, () => client.close());
      }
    } catch { /* closed */ }
  })();
  return {
    port: listener.addr.port,
    close() {
      listener.close();
      for (const c of conns) {
        try {
          c.close();
        } catch { /* closed */ }
      }
    },
  };
}
