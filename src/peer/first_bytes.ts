/**
 * Connections peers opened to us that have not sent a byte yet. Whoever dials speaks first (its handshake, or its
 * key when it encrypts), so until the first bytes come a connection is only a socket: it is held here, not given a
 * peer actor. A flood of connections that never speak then costs a pending read each, not an actor started and
 * stopped for each one, and at most `limit` of them are held: the oldest is closed to make room.
 *
 * @module
 */

import type { ByteStream } from "../common/byte_stream.ts";

/** What the holder counts, in an object its owner may read while it runs. */
export interface SilentCounts {
  /** Connections closed silent: too many at once, or quiet past the time-out. */
  closedSilent: number;
}

/** How many silent connections are held, and for how long. */
export interface FirstBytesOptions {
  /** At most this many are held; a new one beyond closes the one that waited longest (default 64). */
  limit?: number;
  /** One silent this long is closed (default 10 s, the peer's handshake time-out). */
  timeoutMs?: number;
  /** Where to count (default: an object of its own). */
  counts?: SilentCounts;
}

/** A stream whose first read returns bytes already read off it; the rest pass straight through. */
export class PrefixedStream implements ByteStream {
  #first: Uint8Array | null;

  constructor(readonly inner: ByteStream, first: Uint8Array) {
    this.#first = first.length > 0 ? first : null;
  }

  get via(): "utp" | undefined {
    return this.inner.via;
  }

  read(into: Uint8Array): Promise<number | null> {
    const first = this.#first;
    if (first === null) return this.inner.read(into);
    const n = Math.min(into.length, first.length);
    into.set(first.subarray(0, n));
    this.#first = n < first.length ? first.subarray(n) : null;
    return Promise.resolve(n);
  }

  write(bytes: Uint8Array): Promise<number> {
    return this.inner.write(bytes);
  }

  close(): void {
    this.inner.close();
  }

  /** Nagle off on the TCP connection underneath, when there is one. */
  setNoDelay(on: boolean): void {
    (this.inner as Partial<Deno.TcpConn>).setNoDelay?.(on);
  }
}

/** Bytes read off a connection while it waits: a handshake's length, enough to tell plaintext from encrypted. */
const FIRST_READ = 68;

/**
 * Holds connections until each sends its first bytes, then hands it on (with those bytes still to be read);
 * closes the ones that stay silent past the time-out or are the oldest of too many.
 */
export class FirstBytes {
  readonly #held = new Set<{ conn: ByteStream; timer: ReturnType<typeof setTimeout> }>();
  readonly #limit: number;
  readonly #timeoutMs: number;
  readonly #counts: SilentCounts;
  #stopped = false;

  /** `speaks` gets each connection once it has sent something. */
  constructor(
    private readonly speaks: (conn: ByteStream, host: string, port: number) => void,
    options: FirstBytesOptions = {},
  ) {
    this.#limit = options.limit ?? 64;
    this.#timeoutMs = options.timeoutMs ?? 10_000;
    this.#counts = options.counts ?? { closedSilent: 0 };
  }

  /** Connections closed silent: too many at once, or quiet past the time-out. */
  get closedSilent(): number {
    return this.#counts.closedSilent;
  }

  /** How many are held now. */
  get size(): number {
    return this.#held.size;
  }

  /** Waits for `conn`'s first bytes (closing it if it closes first, or when stopped). */
  hold(conn: ByteStream, host: string, port: number): void {
    if (this.#stopped) return closeQuietly(conn);
    if (this.#held.size >= this.#limit) {
      const oldest = this.#held.values().next().value!;
      this.#drop(oldest);
    }
    const entry = { conn, timer: setTimeout(() => this.#drop(entry), this.#timeoutMs) };
    this.#held.add(entry);
    const first = new Uint8Array(FIRST_READ);
    conn.read(first).then((n) => {
      if (!this.#held.delete(entry)) return; // closed meanwhile
      clearTimeout(entry.timer);
      if (n === null || this.#stopped) return closeQuietly(conn);
      this.speaks(new PrefixedStream(conn, first.subarray(0, n)), host, port);
    }, () => {
      if (this.#held.delete(entry)) clearTimeout(entry.timer);
      closeQuietly(conn);
    });
  }

  #drop(entry: { conn: ByteStream; timer: ReturnType<typeof setTimeout> }): void {
    if (!this.#held.delete(entry)) return;
    clearTimeout(entry.timer);
    this.#counts.closedSilent++;
    closeQuietly(entry.conn);
  }

  /** Closes every connection held, and any handed in later. */
  stop(): void {
    this.#stopped = true;
    for (const entry of [...this.#held]) {
      this.#held.delete(entry);
      clearTimeout(entry.timer);
      closeQuietly(entry.conn);
    }
  }
}

function closeQuietly(conn: ByteStream): void {
  try {
    conn.close();
  } catch { /* already closed */ }
}
