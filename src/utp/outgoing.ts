/**
 * The packets a uTP connection sent and the peer has not acked, by sequence number: how many bytes are in flight
 * (what the windows limit), and which were counted lost and wait to go again.
 *
 * @module
 */

import type { RoundTrip } from "./congestion.ts";
import { sackedSeqs, seqAdd, seqDiff } from "./packet.ts";

/** A sent packet kept until acked. */
export interface SentPacket {
  bytes: Uint8Array;
  sentAt: number;
  transmissions: number;
  /** Counted lost: waits to be sent again, not in flight. */
  lost: boolean;
}

/** Sent, unacked packets. */
export class Outgoing {
  /** The sequence number the next packet takes. */
  next: number;
  /** The oldest sequence number not acked (`next` when none is in flight). */
  oldest: number;
  /** Bytes in flight: sent, not acked, not counted lost. */
  inFlight = 0;
  /** Packets counted lost, waiting to go again. */
  lostCount = 0;
  #packets = new Map<number, SentPacket>();
  #dupAcks = 0;
  #lastAck = -1;
  /** Losses before this sequence number were answered already. */
  #recoveredTo: number;

  constructor(first: number) {
    this.next = this.oldest = this.#recoveredTo = first;
  }

  /** Packets kept. */
  get size(): number {
    return this.#packets.size;
  }

  has(seq: number): boolean {
    return this.#packets.has(seq);
  }

  /** Keeps a packet just sent as `bytes` with sequence number `seq` (`next`, which moves on). */
  add(seq: number, bytes: Uint8Array, now: number): void {
    this.#packets.set(seq, { bytes, sentAt: now, transmissions: 1, lost: false });
    this.inFlight += bytes.length;
    this.next = seqAdd(seq, 1);
  }

  /**
   * Takes an ack (`bare`: a STATE packet): everything up to `ack`, and what the selective ack `sack` names. Returns
   * the bytes newly acked; `lost` is the oldest packet when three later ones arrived (selectively) or three
   * duplicate acks came, with `halve` set once a round trip (the window halves once per loss event). A packet
   * sent less than a round trip ago is never judged lost: its answer cannot have come yet, and the acks a peer
   * sends for every packet past a gap would otherwise resend it again and again. `roundTrip` takes the samples.
   */
  takeAck(
    ack: number,
    sack: Uint8Array | undefined,
    bare: boolean,
    now: number,
    roundTrip: RoundTrip,
  ) {
    const minAge = roundTrip.rtt; // as it stood before this ack's samples
    let acked = 0;
    while (seqDiff(ack, this.oldest) >= 0 && this.oldest !== this.next) {
      acked += this.ack(this.oldest, now, roundTrip);
      this.oldest = seqAdd(this.oldest, 1);
    }
    const past: number[] = [];
    for (const seq of sack ? sackedSeqs(ack, sack) : []) {
      if (seqDiff(seq, this.next) >= 0) break;
      acked += this.ack(seq, now, roundTrip);
      past.push(seq);
    }
    if (acked > 0) this.#dupAcks = 0;
    else if (bare && ack === this.#lastAck && this.size > 0) this.#dupAcks++;
    this.#lastAck = ack;
    const oldest = this.#packets.get(this.oldest);
    if ((this.#dupAcks < 3 && past.length < 3) || !oldest || now - oldest.sentAt < minAge) return { acked };
    this.#dupAcks = 0;
    const lost = this.oldest;
    this.#markLostBefore(past, now - minAge);
    const halve = seqDiff(lost, this.#recoveredTo) >= 0;
    if (halve) this.#recoveredTo = this.next;
    return { acked, lost, halve };
  }

  /** Counts the oldest packet lost, and each before the third-last one the peer has (`past`) that it lacks. */
  #markLostBefore(past: number[], sentBefore: number): void {
    this.markLost(this.oldest);
    if (past.length < 3) return;
    const third = past[past.length - 3];
    const have = new Set(past);
    for (let s = seqAdd(this.oldest, 1); seqDiff(s, third) < 0; s = seqAdd(s, 1)) {
      if (!have.has(s) && (this.#packets.get(s)?.sentAt ?? Infinity) <= sentBefore) this.markLost(s);
    }
  }

  /**
   * Forgets acked packet `seq`; the bytes it had in flight (0 when unknown or counted lost). `roundTrip` hears the
   * round trip of a packet sent once.
   */
  ack(seq: number, now: number, roundTrip: RoundTrip): number {
    const packet = this.#packets.get(seq);
    if (!packet) return 0;
    this.#packets.delete(seq);
    if (packet.transmissions === 1) roundTrip.sample(now - packet.sentAt);
    if (packet.lost) {
      this.lostCount--;
      return 0;
    }
    this.inFlight -= packet.bytes.length;
    return packet.bytes.length;
  }

  /** Counts packet `seq` lost (when it is kept). */
  markLost(seq: number): void {
    const packet = this.#packets.get(seq);
    if (!packet || packet.lost) return;
    packet.lost = true;
    this.lostCount++;
    this.inFlight -= packet.bytes.length;
  }

  /** Counts every packet lost (after a timeout). */
  markAllLost(): void {
    for (const seq of this.#packets.keys()) this.markLost(seq);
  }

  /** Packets counted lost, oldest first. */
  *lost(): Generator<[number, SentPacket]> {
    if (this.lostCount === 0) return;
    for (const entry of this.#packets) if (entry[1].lost) yield entry;
  }

  /** Packet `seq` went again as `bytes`. */
  resent(seq: number, bytes: Uint8Array, now: number): void {
    const packet = this.#packets.get(seq)!;
    if (packet.lost) this.lostCount--;
    else this.inFlight -= packet.bytes.length;
    packet.lost = false;
    packet.bytes = bytes;
    packet.sentAt = now;
    packet.transmissions++;
    this.inFlight += bytes.length;
  }

  get(seq: number): SentPacket | undefined {
    return this.#packets.get(seq);
  }

  clear(): void {
    this.#packets.clear();
    this.inFlight = 0;
    this.lostCount = 0;
  }
}
