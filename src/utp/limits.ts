/** The sizes, limits and timer periods of uTP connections. @module */

/** Sizes and limits of a connection. */
export interface UtpLimits {
  /** Payload bytes per packet: small enough not to be fragmented on the path. */
  payloadSize: number;
  /** Most bytes we take in before they are read (our advertised window). */
  receiveWindow: number;
  /** Most bytes in flight (the congestion window's ceiling). */
  maxWindow: number;
  /** Timeouts in a row before the connection is given up (SYNs count too). */
  maxTimeouts: number;
  /** A SYN we answered gets nothing more for this long: the half-open connection is dropped (ms). */
  halfOpenMs: number;
}

/** Limits that suit a 1,500-byte path. */
export const DEFAULT_LIMITS: UtpLimits = {
  payloadSize: 1400,
  receiveWindow: 1 << 20,
  maxWindow: 1 << 20,
  maxTimeouts: 6,
  halfOpenMs: 10_000,
};

/** A connection with nothing to send sends an ack this often, so that NATs keep its mapping (ms). */
export const KEEPALIVE_MS = 29_000;
/** After the peer's window was shut this long, one packet probes it (ms). */
export const ZERO_WINDOW_PROBE_MS = 15_000;
/** A closed connection waits this long at most for its last packets and FIN to be acked (ms). */
export const CLOSE_LINGER_MS = 10_000;
/** A bare ack goes at once after this many data packets, else at the end of the burst. */
export const ACK_EVERY = 8;
