/**
 * How we dial a peer when uTP is on: uTP first, TCP after a short head start (or at once when uTP fails), keeping
 * whichever connects first and closing the other. A peer that speaks uTP answers its SYN within a round trip, as
 * TCP would, so uTP wins wherever the peer has it; a peer whose uTP never answered while TCP did is dialled over
 * TCP alone from then on. A peer reachable over uTP only (TCP blocked or refused) is reached all the same.
 *
 * @module
 */

import type { ByteStream } from "../common/byte_stream.ts";
import type { UtpEndpoint } from "../utp/endpoint.ts";

/** Opens a stream to `host:port`. */
export type Dial = (host: string, port: number) => Promise<ByteStream>;

/** Dials TCP. */
export const dialTcp: Dial = (hostname, port) => Deno.connect({ hostname, port });

/** Options of `dialUtpFirst`. */
export interface UtpFirstOptions {
  /** How long uTP goes alone before TCP is dialled too (default 100 ms). */
  headStartMs?: number;
  /** How long a uTP SYN waits for its answer (default 3 s). */
  utpTimeoutMs?: number;
  /** The TCP dial (default `Deno.connect`). */
  tcp?: Dial;
}

/** Peers remembered as TCP-only, at most: past it the memory starts again. */
const MAX_REMEMBERED = 4096;

/** A dial that tries uTP through `endpoint` first and TCP beside it, as described above. */
export function dialUtpFirst(endpoint: UtpEndpoint, options: UtpFirstOptions = {}): Dial {
  const tcpOnly = new Set<string>();
  const tcp = options.tcp ?? dialTcp;
  return (host, port) => {
    const key = `${host}|${port}`;
    if (tcpOnly.has(key)) return tcp(host, port);
    return new Promise<ByteStream>((resolve, reject) => {
      let done = false;
      let pending = 0;
      let tcpStarted = false;
      let tcpError: Error | undefined;
      let utpFailed = false;
      let tcpConnected = false;
      const win = (stream: ByteStream, isUtp: boolean) => {
        if (!isUtp) tcpConnected = true;
        if (tcpConnected && utpFailed) remember(); // uTP got no answer where TCP did
        if (done) return stream.close(); // the other one was first
        done = true;
        clearTimeout(timer);
        resolve(stream);
      };
      const remember = () => {
        if (tcpOnly.size >= MAX_REMEMBERED) tcpOnly.clear();
        tcpOnly.add(key);
      };
      const attempt = (dial: Promise<ByteStream>, isUtp: boolean) => {
        pending++;
        dial.then((stream) => win(stream, isUtp), (e: Error) => {
          pending--;
          if (isUtp) {
            utpFailed = true;
            if (tcpConnected) remember();
            startTcp();
          } else tcpError = e;
          if (pending === 0 && tcpStarted && !done) {
            done = true;
            reject(tcpError ?? e);
          }
        });
      };
      const startTcp = () => {
        if (tcpStarted || done) return;
        tcpStarted = true;
        clearTimeout(timer);
        attempt(tcp(host, port), false);
      };
      attempt(endpoint.connect(host, port, options.utpTimeoutMs ?? 3000), true);
      const timer = setTimeout(startTcp, options.headStartMs ?? 100);
    });
  };
}
