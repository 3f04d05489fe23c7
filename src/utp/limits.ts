/** The sizes, limits and timer periods of uTP connections. @module */

/** Sizes and limits of a connection. */
export interface UtpLimits {
  /** Payload bytes per packet: small enough not to be fragmented on the path. */
  payloadSize: number;
  /**
   * Most bytes we take in before they are read (our advertised window) on a short path: no more than the kernel's
   * UDP receive buffer holds (about 200 KB by default on Linux), which a burst from a fast sender must not
   * overflow while our event loop is busy: each loss halves the sender's window.
   */
  receiveWindow: number;
  /**
   * The window on long paths (a round trip of 20 ms or more), where packets come paced by the path: round trip ×
   * 20 MiB/s, up to this.
   */
  maxReceiveWindow: number;
  /** Most bytes in flight (the congestion window's ceiling). */
  maxWindow: number;
  /** Timeouts in a row before the connection is given up (SYNs count too). */
  maxTimeouts: number;
  /** A SYN we answered gets nothing more for this long: the half-open connection is dropped (ms). */
  halfOpenMs: number;
  /** A connection with nothing to send sends an ack this often, so that NATs keep its mapping (ms). */
  keepaliveMs: number;
  /** After the peer's window was shut this long, one packet probes it (ms). */
  zeroWindowProbeMs: number;
  /** A closed connection waits this long at most for its last packets and FIN to be acked (ms). */
  closeLingerMs: number;
  /** A bare ack goes at once after this many data packets, else at the end of the burst. */
  ackEvery: number;
}

/** Limits that suit a 1,500-byte path. */
export const DEFAULT_LIMITS: UtpLimits = {
  payloadSize: 1400,
  receiveWindow: 128 * 1024,
  maxReceiveWindow: 4 << 20,
  maxWindow: 1 << 20,
  maxTimeouts: 6,
  halfOpenMs: 10_000,
  keepaliveMs: 29_000,
  zeroWindowProbeMs: 15_000,
  closeLingerMs: 10_000,
  ackEvery: 8,
};

/** The window we advertise after a round trip of `rttMs`: the short-path one, or more on a long path. */
export function receiveWindowFor(rttMs: number, limits: UtpLimits): number {
  const pathWindow = rttMs >= 20 ? rttMs * 20 * 1048.576 : 0;
  return Math.min(limits.maxReceiveWindow, Math.max(limits.receiveWindow, pathWindow));
}
