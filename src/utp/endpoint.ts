/**
 * The uTP side of a UDP port: it tells connections apart by the peer's address and the connection id in each
 * packet, makes a connection for each SYN it accepts (bounded: a SYN flood costs a fixed amount), dials out with
 * `connect`, and runs every connection's timers from one interval that stops when no connection is left. It owns
 * no socket: `send` puts a packet on the wire, `receive` is given each uTP packet that arrives.
 *
 * @module
 */

import { decodePacket, encodePacket, ST_DATA, ST_FIN, ST_RESET, ST_SYN, type UtpPacket } from "./packet.ts";
import { DEFAULT_LIMITS, type UtpLimits } from "./limits.ts";
import { UtpSocket } from "./socket.ts";

/** What an endpoint is given. */
export interface UtpEndpointOptions {
  /** Puts a packet on the wire. */
  send(bytes: Uint8Array, host: string, port: number): void;
  /** A peer connected to us (its SYN was accepted). */
  onAccept?(socket: UtpSocket, host: string, port: number): void;
  /** The clock in milliseconds (default `performance.now`). */
  now?: () => number;
  /** How often the timers run (default 100 ms); 0: never (a test calls `tick`). */
  tickMs?: number;
  /** The timers' interval keeps the process alive (default false: the UDP socket does that). */
  keepAlive?: boolean;
  /** Most connections at once (default 512); SYNs past it are not answered. */
  maxConnections?: number;
  /** Most connections whose SYN we answered and that sent nothing since (default 64). */
  maxHalfOpen?: number;
  limits?: Partial<UtpLimits>;
}

/** Counters for a person watching. */
export interface UtpEndpointStats {
  connections: number;
  accepted: number;
  dialled: number;
  /** Packets that were not uTP, were for no connection of ours, or were refused (a SYN past the limits). */
  dropped: number;
  resetsSent: number;
}

/** The uTP connections of one UDP port. */
export class UtpEndpoint {
  readonly stats: UtpEndpointStats = { connections: 0, accepted: 0, dialled: 0, dropped: 0, resetsSent: 0 };
  readonly limits: UtpLimits;
  /** Hears each connection a peer opened; while unset, SYNs are not answered. */
  onAccept?: (socket: UtpSocket, host: string, port: number) => void;
  #sockets = new Map<string, UtpSocket>();
  #now: () => number;
  #timer?: ReturnType<typeof setInterval>;
  #acksOwed = new Set<UtpSocket>();
  #ackFlushQueued = false;
  #resetBudget = { left: 0, since: -Infinity };
  #closed = false;

  constructor(readonly options: UtpEndpointOptions) {
    this.#now = options.now ?? (() => performance.now());
    this.onAccept = options.onAccept;
    this.limits = { ...DEFAULT_LIMITS, ...options.limits };
  }

  /** Live connections. */
  get size(): number {
    return this.#sockets.size;
  }

  /** Takes a packet from `host:port`; false when it is not a uTP packet. */
  receive(bytes: Uint8Array, host: string, port: number): boolean {
    const p = decodePacket(bytes);
    if (!p) {
      this.stats.dropped++;
      return false;
    }
    if (this.#closed) return true;
    const now = this.#now();
    if (p.type === ST_SYN) {
      this.#takeSyn(p, host, port, now);
      return true;
    }
    const socket = this.#sockets.get(key(host, port, p.connectionId));
    if (!socket) {
      this.stats.dropped++;
      if (p.type !== ST_RESET) this.#reset(p.connectionId, p.seq, host, port, now);
      return true;
    }
    socket.receive(p, now);
    if (p.type === ST_DATA || p.type === ST_FIN) this.#oweAck(socket); // sent unless already piggybacked
    return true;
  }

  /** A SYN: a new incoming connection (the id ours carry is theirs, ours theirs + 1), or a repeated one. */
  #takeSyn(syn: UtpPacket, host: string, port: number, now: number): void {
    const id = syn.connectionId, recvId = (id + 1) & 0xffff;
    const existing = this.#sockets.get(key(host, port, recvId));
    if (existing) return existing.receive(syn, now); // our answer was lost: it answers again
    const halfOpen = [...this.#sockets.values()].filter((s) => s.state === "syn-recv").length;
    if (
      !this.onAccept || this.#sockets.size >= (this.options.maxConnections ?? 512) ||
      halfOpen >= (this.options.maxHalfOpen ?? 64)
    ) {
      this.stats.dropped++;
      return;
    }
    const socket = this.#add(host, port, recvId, id, true);
    socket.accept(syn.seq);
    this.stats.accepted++;
    this.onAccept(socket, host, port);
  }

  /**
   * Dials `host:port`: resolves with the connection once the peer answers our SYN, rejects after `timeoutMs`
   * (default 3 s) without an answer or when the peer resets it.
   */
  async connect(host: string, port: number, timeoutMs = 3000): Promise<UtpSocket> {
    if (this.#closed) throw new Error("uTP: the endpoint is closed");
    let recvId: number;
    do recvId = Math.floor(Math.random() * 0x10000); while (
      this.#sockets.has(key(host, port, recvId)) || this.#sockets.has(key(host, port, (recvId + 1) & 0xffff))
    );
    const socket = this.#add(host, port, recvId, (recvId + 1) & 0xffff, false);
    this.stats.dialled++;
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      await Promise.race([
        socket.connect(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`uTP: no answer in ${timeoutMs / 1000} s`)), timeoutMs);
        }),
      ]);
      return socket;
    } catch (e) {
      socket.abort((e as Error).message);
      throw e;
    } finally {
      clearTimeout(timer);
    }
  }

  #add(host: string, port: number, recvId: number, sendId: number, incoming: boolean): UtpSocket {
    const k = key(host, port, recvId);
    const socket = new UtpSocket(
      {
        send: (bytes) => this.options.send(bytes, host, port),
        now: this.#now,
        closed: (s) => {
          if (this.#sockets.get(k) === s) this.#sockets.delete(k);
          this.#acksOwed.delete(s);
          this.stats.connections = this.#sockets.size;
          if (this.#sockets.size === 0) this.#stopTimer();
        },
      },
      recvId,
      sendId,
      incoming,
      this.limits,
    );
    this.#sockets.set(k, socket);
    this.stats.connections = this.#sockets.size;
    this.#startTimer();
    return socket;
  }

  /** Acks owed after a burst of packets go out together, once the burst has been taken. */
  #oweAck(socket: UtpSocket): void {
    this.#acksOwed.add(socket);
    if (this.#ackFlushQueued) return;
    this.#ackFlushQueued = true;
    setTimeout(() => {
      this.#ackFlushQueued = false;
      for (const s of this.#acksOwed) s.flushAck();
      this.#acksOwed.clear();
    }, 0);
  }

  /** A packet for no connection of ours gets a RESET (at most 20 a second: a flood gets few answers). */
  #reset(id: number, seq: number, host: string, port: number, now: number): void {
    if (now - this.#resetBudget.since >= 1000) this.#resetBudget = { left: 20, since: now };
    if (this.#resetBudget.left <= 0) return;
    this.#resetBudget.left--;
    this.stats.resetsSent++;
    const reset = encodePacket({
      type: ST_RESET,
      connectionId: id,
      timestamp: (now * 1000) >>> 0,
      timestampDiff: 0,
      window: 0,
      seq: Math.floor(Math.random() * 0x10000),
      ack: seq,
      payload: new Uint8Array(0),
    });
    this.options.send(reset, host, port);
  }

  /** Runs every connection's timers (the interval does this; tests call it with their own clock). */
  tick(): void {
    const now = this.#now();
    for (const socket of [...this.#sockets.values()]) socket.tick(now);
  }

  #startTimer(): void {
    const ms = this.options.tickMs ?? 100;
    if (this.#timer !== undefined || ms === 0) return;
    const timer = setInterval(() => this.tick(), ms);
    if (!this.options.keepAlive) Deno.unrefTimer(timer);
    this.#timer = timer;
  }

  #stopTimer(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** Resets every connection and stops. */
  close(): void {
    this.#closed = true;
    for (const socket of [...this.#sockets.values()]) socket.abort("uTP: the endpoint closed");
    this.#stopTimer();
  }
}

function key(host: string, port: number, id: number): string {
  return `${host}|${port}|${id}`;
}
