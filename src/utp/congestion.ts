/**
 * uTP's congestion control (BEP 29): LEDBAT, which grows the window while the one-way delay our packets see stays
 * under a 100 ms target and shrinks it as the delay passes the target, so a download gives way to the user's other
 * traffic; halving on loss, one packet after a timeout; and the round-trip estimate that sets the retransmission
 * timeout. Times in milliseconds, delays in microseconds, windows in bytes; no clock of its own.
 *
 * @module
 */

/** The queuing delay LEDBAT aims at, in microseconds. */
export const TARGET_DELAY_US = 100_000;
/** Most the window grows in one round trip when the delay is zero (as BEP 29 and libutp). */
const MAX_GAIN_PER_RTT = 3000;
/** The base delay is the lowest seen in the last two minutes, kept as per-minute minimums. */
const BASE_MINUTES = 2;

/** Lowest one-way delay seen per minute: the base delay the queuing delay is measured against. */
export class DelayHistory {
  #minimums: number[] = [];
  #minuteStarted = -Infinity;

  /** Adds a sample (µs) seen at `now` (ms). */
  add(sampleUs: number, now: number): void {
    if (now - this.#minuteStarted >= 60_000 || this.#minimums.length === 0) {
      this.#minimums.push(sampleUs);
      if (this.#minimums.length > BASE_MINUTES) this.#minimums.shift();
      this.#minuteStarted = now;
    } else {
      const last = this.#minimums.length - 1;
      if (sampleUs < this.#minimums[last]) this.#minimums[last] = sampleUs;
    }
  }

  /** The base delay (µs); 0 before any sample. */
  get base(): number {
    return this.#minimums.length === 0 ? 0 : Math.min(...this.#minimums);
  }
}

/** The round-trip estimate and the timeout it gives (as TCP's, with BEP 29's 500 ms floor). */
export class RoundTrip {
  rtt = 0;
  rttVar = 0;
  #timeout = 1000;
  #sampled = false;

  /** A round trip measured on a packet sent once and acked (ms). */
  sample(ms: number): void {
    if (!this.#sampled) {
      this.rtt = ms;
      this.rttVar = ms / 2;
      this.#sampled = true;
    } else {
      this.rttVar += (Math.abs(this.rtt - ms) - this.rttVar) / 4;
      this.rtt += (ms - this.rtt) / 8;
    }
    this.#timeout = Math.max(this.rtt + 4 * this.rttVar, 500);
  }

  /** The retransmission timeout (ms). */
  get timeout(): number {
    return this.#timeout;
  }

  /** A timeout fired: wait twice as long next time (at most a minute). */
  backOff(): void {
    this.#timeout = Math.min(this.#timeout * 2, 60_000);
  }
}

/** The congestion window: LEDBAT with slow start, loss halving and timeout collapse. */
export class Ledbat {
  /** The window: bytes we may have in flight. */
  window: number;
  #slowStart = true;
  /** Slow start ends when the window reaches this (after a timeout: half the window before it). */
  #threshold = Infinity;
  readonly delays = new DelayHistory();
  /** The last queuing delay seen (µs), for a person watching. */
  queuingDelay = 0;

  constructor(readonly packetSize: number, readonly maxWindow: number, initialPackets = 4) {
    this.window = packetSize * initialPackets;
  }

  /** In slow start: the window doubles each round trip until the first loss or the delay target. */
  get slowStart(): boolean {
    return this.#slowStart;
  }

  /**
   * `acked` bytes were acked; `delayUs` is the one-way delay the peer measured on our packets (0: none), seen at
   * `now` (ms).
   */
  onAck(acked: number, delayUs: number, now: number): void {
    if (acked <= 0) return;
    if (delayUs > 0) this.delays.add(delayUs, now);
    this.queuingDelay = delayUs > 0 ? Math.max(0, delayUs - this.delays.base) : this.queuingDelay;
    const offTarget = (TARGET_DELAY_US - this.queuingDelay) / TARGET_DELAY_US;
    if (this.#slowStart && offTarget > 0 && this.window < this.#threshold) {
      this.window += acked;
    } else {
      this.#slowStart = false;
      const windowFactor = Math.min(acked, this.window) / Math.max(this.window, acked);
      this.window += MAX_GAIN_PER_RTT * windowFactor * Math.max(-1, offTarget);
    }
    this.window = Math.min(Math.max(this.window, this.packetSize), this.maxWindow);
  }

  /** A packet was lost (three duplicate acks or a selective ack past it): half the window. */
  onLoss(): void {
    this.#slowStart = false;
    this.window = Math.max(this.window / 2, this.packetSize);
    this.#threshold = this.window;
  }

  /** The retransmission timer fired: one packet's worth, then slow start up to half the window before. */
  onTimeout(): void {
    this.#threshold = Math.max(this.window / 2, this.packetSize);
    this.#slowStart = true;
    this.window = this.packetSize;
  }
}
