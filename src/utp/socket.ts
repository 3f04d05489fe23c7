/**
 * One uTP connection (BEP 29) as a byte stream, the shape of a TCP connection: `read`, `write`, `close`. It cuts
 * what is written into DATA packets as the congestion window (`congestion.ts`) and the peer's receive window allow,
 * keeps each until acked (cumulative and selective acks), resends on three duplicate acks and on timeout, and puts
 * packets that arrive out of order back in order before they are read. The endpoint (`endpoint.ts`) hands it the
 * packets for its connection id and calls `tick` for its timers; it owns no socket and no clock.
 *
 *   syn-sent ──STATE──→ connected ──FIN both ways / RESET / timeout──→ closed
 *   syn-recv ──first packet──↗
 *
 * @module
 */

import type { ByteStream } from "../common/byte_stream.ts";
import { Ledbat, RoundTrip } from "./congestion.ts";
import { Inbox } from "./inbox.ts";
import { Outgoing } from "./outgoing.ts";
import { WriteQueue } from "./write_queue.ts";
import { DEFAULT_LIMITS, receiveWindowFor, type UtpLimits } from "./limits.ts";
import {
  decodePacket,
  encodePacket,
  HEADER_SIZE,
  seqAdd,
  seqDiff,
  ST_DATA,
  ST_FIN,
  ST_RESET,
  ST_STATE,
  ST_SYN,
  type UtpPacket,
} from "./packet.ts";

/** What a connection needs of its endpoint. */
export interface UtpWire {
  /** Sends a packet to the peer. */
  send(bytes: Uint8Array): void;
  /** The clock, in milliseconds. */
  now(): number;
  /** The connection is over: forget it. */
  closed(socket: UtpSocket): void;
}

/** One uTP connection. */
export class UtpSocket implements ByteStream {
  readonly via = "utp";
  state: "syn-sent" | "syn-recv" | "connected" | "closed";
  /** Why it closed, when it closed on an error. */
  error?: string;
  readonly congestion: Ledbat;
  /** What arrived, in order, until read. */
  readonly inbox: Inbox;
  readonly roundTrip = new RoundTrip();
  readonly counts = { sent: 0, resent: 0, received: 0, duplicates: 0, dropped: 0, timeouts: 0 };

  /** Sent packets not yet acked, and the sequence numbers. */
  #outgoing: Outgoing;
  #peerWindow: number;
  #timeouts = 0;
  #timerFrom: number;
  #zeroWindowSince?: number;
  /** The delay we measured the other way, echoed in every packet (µs). */
  #replyDelay = 0;
  /** Written bytes not yet in a packet. */
  #pending = new WriteQueue();
  #ackDue = false;
  /** Data packets taken since our last ack. */
  #unacked = 0;
  #closing = false;
  #finSent = false;
  #closeStarted = 0;
  #lastRecv: number;
  #lastSend: number;
  #connected?: { resolve: () => void; reject: (e: Error) => void };

  /**
   * A connection: `recvId` is the id packets to us carry, `sendId` the one ours carry. We dial with `seq` 1 and a
   * SYN (`connect`); we accept with a random `seq`, after `accept` answered the SYN.
   */
  constructor(
    readonly wire: UtpWire,
    readonly recvId: number,
    readonly sendId: number,
    incoming: boolean,
    readonly limits: UtpLimits = DEFAULT_LIMITS,
    seq = incoming ? Math.floor(Math.random() * 0x10000) : 1,
  ) {
    this.state = incoming ? "syn-recv" : "syn-sent";
    const reopened = () => queueMicrotask(() => this.flushAck(true)); // a shut window opened: say so now
    this.inbox = new Inbox(limits.receiveWindow, limits.payloadSize, reopened);
    this.#outgoing = new Outgoing(seq);
    this.#peerWindow = limits.payloadSize;
    this.congestion = new Ledbat(limits.payloadSize + HEADER_SIZE, limits.maxWindow);
    const now = wire.now();
    this.#lastRecv = this.#lastSend = this.#timerFrom = now;
  }

  /** Bytes sent and not yet acked. */
  get inFlight(): number {
    return this.#outgoing.inFlight;
  }

  /** Sends our SYN; resolves once the peer answers, rejects when it does not (after `maxTimeouts` tries). */
  connect(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#connected = { resolve, reject };
      this.#sendTracked(ST_SYN, new Uint8Array(0));
    });
  }

  /** Answers the peer's SYN (sequence number `seq`): our STATE, the next sequence number ours. */
  accept(synSeq: number): void {
    this.inbox.ack = synSeq;
    this.#sendState();
  }

  /** A packet for this connection, at `now` (ms). */
  receive(p: UtpPacket, now: number): void {
    if (this.state === "closed") return;
    this.counts.received++;
    if (p.type === ST_RESET) return this.#fail("the peer reset the connection");
    if (p.type === ST_SYN) {
      if (this.state === "syn-recv") this.#sendState(); // our answer was lost: again
      return;
    }
    // An ack for a packet we never sent: not from our peer, or confused; drop it. (An old ack is fine: a late
    // packet carries one.)
    if (seqDiff(p.ack, seqAdd(this.#outgoing.next, -1)) > 0) {
      this.counts.dropped++;
      return;
    }
    this.#lastRecv = now;
    this.#replyDelay = ((now * 1000) - p.timestamp) >>> 0;
    if (this.state === "syn-sent") {
      if (p.type !== ST_STATE && p.type !== ST_DATA) return;
      this.state = "connected";
      this.inbox.ack = seqAdd(p.seq, -1); // a STATE does not use up its sequence number; their data starts there
      this.#connected?.resolve();
      this.#connected = undefined;
    } else if (this.state === "syn-recv") {
      this.state = "connected";
    }
    this.#peerWindow = p.window;
    this.#zeroWindowSince = p.window < this.limits.payloadSize ? (this.#zeroWindowSince ?? now) : undefined;
    this.#takeAcks(p, now);
    if (p.type === ST_DATA || p.type === ST_FIN) this.#takeData(p);
    this.#flush(now, false);
    this.#maybeFinish();
  }

  /** Acks everything up to `p.ack` and what its selective ack names; resends at once what was lost. */
  #takeAcks(p: UtpPacket, now: number): void {
    const { acked, lost, halve } = this.#outgoing.takeAck(
      p.ack,
      p.sack,
      p.type === ST_STATE,
      now,
      this.roundTrip,
    );
    this.inbox.window = receiveWindowFor(this.roundTrip.rtt, this.limits); // wider on a long path
    if (acked > 0) {
      this.#timeouts = 0;
      this.#timerFrom = now;
      this.congestion.onAck(acked, p.timestampDiff, now);
    }
    if (halve) this.congestion.onLoss();
    if (lost !== undefined) this.#resend(lost, now); // fast retransmit, whatever the window; others as it allows
  }

  /** Takes a DATA or FIN packet into the inbox; an ack is owed either way. */
  #takeData(p: UtpPacket): void {
    this.#ackDue = true;
    this.#unacked++;
    const taken = this.inbox.take(p.seq, p.payload, p.type === ST_FIN);
    if (taken === "duplicate") this.counts.duplicates++;
    else if (taken === "dropped") this.counts.dropped++;
  }

  /** Reads what has arrived in order; null once the peer finished (FIN) and all was read, or we closed. */
  read(into: Uint8Array): Promise<number | null> {
    return this.inbox.read(into);
  }

  /** Queues bytes to send; resolves once they are cut into packets (the window allowed them). */
  write(bytes: Uint8Array): Promise<number> {
    if (this.state === "closed" || this.#closing) {
      return Promise.reject(new Error(this.error ?? "uTP: the connection is closed"));
    }
    if (bytes.length === 0) return Promise.resolve(0);
    const done = this.#pending.push(bytes);
    this.#flush(this.wire.now());
    return done;
  }

  /** Sends what the windows allow: packets counted lost first, then new data. */
  #flush(now: number, ackNow = true): void {
    if (this.state !== "connected") return;
    const out = this.#outgoing;
    const room = () => Math.min(this.congestion.window, this.#peerWindow) - out.inFlight;
    for (const [seq, packet] of out.lostCount > 0 ? out.lost() : []) {
      if (room() < packet.bytes.length && out.inFlight > 0) return;
      this.#resend(seq, now);
    }
    while (
      !this.#pending.empty && (room() >= this.limits.payloadSize + HEADER_SIZE || out.inFlight === 0)
    ) {
      if (
        this.#peerWindow < this.limits.payloadSize && out.inFlight === 0 &&
        this.#zeroWindowSince !== undefined
      ) {
        break; // the peer has no room: wait for its window (or probe later)
      }
      this.#sendTracked(ST_DATA, this.#pending.take(this.limits.payloadSize));
    }
    if (this.#pending.empty && this.#closing && !this.#finSent) {
      this.#finSent = true;
      this.#sendTracked(ST_FIN, new Uint8Array(0));
    }
    // A bare ack waits for the end of a burst of packets (the endpoint calls `flushAck`) unless many are owed.
    if (this.#ackDue && (ackNow || this.#unacked >= this.limits.ackEvery)) this.#sendState();
  }

  #header(type: number, seq: number, payload: Uint8Array, now: number): Uint8Array {
    return encodePacket({
      type,
      connectionId: type === ST_SYN ? this.recvId : this.sendId,
      timestamp: (now * 1000) >>> 0,
      timestampDiff: this.#replyDelay,
      window: this.inbox.free,
      seq,
      ack: this.inbox.ack,
      sack: this.inbox.sack(),
      payload,
    });
  }

  /** Sends a packet that takes a sequence number and is kept until acked. */
  #sendTracked(type: number, payload: Uint8Array): void {
    const now = this.wire.now();
    const seq = this.#outgoing.next;
    const bytes = this.#header(type, seq, payload, now);
    if (this.#outgoing.size === 0) this.#timerFrom = now;
    this.#outgoing.add(seq, bytes, now);
    this.#transmit(bytes, now);
    this.counts.sent++;
  }

  #resend(seq: number, now: number): void {
    // The ack, window and delay fields are fresh; the type and payload as before.
    const { type, payload } = decodePacket(this.#outgoing.get(seq)!.bytes)!;
    const fresh = this.#header(type, seq, payload, now);
    this.#outgoing.resent(seq, fresh, now);
    this.counts.resent++;
    this.#transmit(fresh, now);
  }

  #sendState(): void {
    const now = this.wire.now();
    this.#transmit(this.#header(ST_STATE, this.#outgoing.next, new Uint8Array(0), now), now);
  }

  #transmit(bytes: Uint8Array, now: number): void {
    this.#ackDue = false;
    this.#unacked = 0;
    this.#lastSend = now;
    this.wire.send(bytes);
  }

  /** Timers: retransmission, the zero-window probe, keep-alive, half-open and closing limits. */
  tick(now: number): void {
    if (this.state === "closed") return;
    if (this.state === "syn-recv" && now - this.#lastRecv > this.limits.halfOpenMs) {
      return this.#fail("uTP: the peer never finished connecting");
    }
    if (this.#closing && now - this.#closeStarted > this.limits.closeLingerMs) return this.#destroy();
    if (this.#outgoing.size > 0 && now - this.#timerFrom >= this.roundTrip.timeout) {
      this.counts.timeouts++;
      if (++this.#timeouts > this.limits.maxTimeouts) {
        return this.#fail(this.state === "syn-sent" ? "uTP: no answer" : "uTP: the peer stopped answering");
      }
      this.roundTrip.backOff();
      this.congestion.onTimeout();
      this.#timerFrom = now;
      this.#outgoing.markAllLost();
      if (this.state === "syn-sent") {
        this.#resend(seqAdd(this.#outgoing.next, -1), now);
      } else this.#flush(now);
    }
    if (this.#zeroWindowSince !== undefined && now - this.#zeroWindowSince > this.limits.zeroWindowProbeMs) {
      this.#zeroWindowSince = now;
      this.#peerWindow = this.limits.payloadSize + HEADER_SIZE; // probe with one packet
      this.#flush(now);
    }
    if (this.state === "connected" && now - this.#lastSend > this.limits.keepaliveMs) this.#sendState();
  }

  /** Sends an ack now if one is owed (after a burst of packets), or `always` (to tell of a reopened window). */
  flushAck(always = false): void {
    if ((this.#ackDue || always) && this.state !== "closed") this.#sendState();
  }

  /** Closes our side: queued bytes still go, then our FIN; reading ends now. */
  close(): void {
    if (this.state === "closed" || this.#closing) return;
    this.#closing = true;
    this.#closeStarted = this.wire.now();
    this.inbox.end();
    if (this.state !== "connected") return this.#destroy();
    this.#flush(this.#closeStarted);
    this.#maybeFinish();
  }

  /** Over once our FIN is acked (the peer's may or may not have come). */
  #maybeFinish(): void {
    if (this.#finSent && this.#outgoing.size === 0) this.#destroy();
  }

  /** Gives the connection up: reads and writes fail with `reason`, the peer gets a RESET. */
  abort(reason: string): void {
    this.#fail(reason);
  }

  /** Ends the connection with an error (reads and writes fail), telling the peer with a RESET. */
  #fail(reason: string): void {
    if (this.state === "closed") return;
    this.error = reason;
    if (this.state === "connected") {
      const now = this.wire.now();
      this.#transmit(this.#header(ST_RESET, this.#outgoing.next, new Uint8Array(0), now), now);
    }
    this.#connected?.reject(new Error(reason));
    this.#connected = undefined;
    this.#destroy();
  }

  #destroy(): void {
    if (this.state === "closed") return;
    this.state = "closed";
    this.error ??= this.#closing ? undefined : "uTP: the connection closed";
    this.#outgoing.clear();
    this.#pending.fail(this.error ?? "uTP: the connection closed");
    this.inbox.end(this.#closing ? undefined : this.error);
    this.wire.closed(this);
  }
}
