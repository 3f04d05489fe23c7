/**
 * A strict bencode scanner. npm:bencode decodes values but accepts trailing garbage and exposes no offsets; this
 * scanner checks the grammar (no leading zeros, no `-0`, sorted-or-not string keys, bounded depth) and reports the
 * exact byte span of each top-level dictionary value, so the infohash can be taken over the raw `info` bytes.
 *
 * @module
 */

const MAX_DEPTH = 64;
const D = 0x64, L = 0x6c, I = 0x69, E = 0x65, COLON = 0x3a, MINUS = 0x2d;

function isDigit(b: number | undefined): boolean {
  return b !== undefined && b >= 0x30 && b <= 0x39;
}

function fail(message: string, at: number): never {
  throw new SyntaxError(`${message} at byte ${at}`);
}

/** Scans a byte string `<len>:<bytes>` at `pos`; returns the offset after it and the start of its bytes. */
function scanString(buf: Uint8Array, pos: number): { start: number; end: number } {
  let i = pos;
  if (!isDigit(buf[i])) fail("expected a string length", i);
  if (buf[i] === 0x30 && isDigit(buf[i + 1])) fail("string length with a leading zero", i);
  let len = 0;
  while (isDigit(buf[i])) {
    len = len * 10 + (buf[i] - 0x30);
    if (len > buf.length) fail("string longer than the input", pos);
    i++;
  }
  if (buf[i] !== COLON) fail("expected ':' after a string length", i);
  const start = i + 1;
  const end = start + len;
  if (end > buf.length) fail("string runs past the end of the input", pos);
  return { start, end };
}

function scanInteger(buf: Uint8Array, pos: number): number {
  let i = pos + 1;
  if (buf[i] === MINUS) i++;
  const first = i;
  while (isDigit(buf[i])) i++;
  if (i === first) fail("integer without digits", pos);
  if (buf[first] === 0x30 && i - first > 1) fail("integer with a leading zero", pos);
  if (buf[first] === 0x30 && first > pos + 1) fail("negative zero", pos);
  if (buf[i] !== E) fail("unterminated integer", pos);
  return i + 1;
}

/** Returns the offset just after the bencoded value that starts at `pos`. Throws SyntaxError on bad input. */
export function scanValue(buf: Uint8Array, pos: number, depth = 0): number {
  if (depth > MAX_DEPTH) fail("nesting deeper than 64 levels", pos);
  const b = buf[pos];
  if (b === undefined) fail("unexpected end of input", pos);
  if (b === I) return scanInteger(buf, pos);
  if (isDigit(b)) return scanString(buf, pos).end;
  if (b === L) {
    let i = pos + 1;
    while (buf[i] !== E) {
      if (buf[i] === undefined) fail("unterminated list", pos);
      i = scanValue(buf, i, depth + 1);
    }
    return i + 1;
  }
  if (b === D) {
    let i = pos + 1;
    while (buf[i] !== E) {
      if (buf[i] === undefined) fail("unterminated dictionary", pos);
      if (!isDigit(buf[i])) fail("dictionary key is not a string", i);
      i = scanString(buf, i).end;
      i = scanValue(buf, i, depth + 1);
    }
    return i + 1;
  }
  return fail(`unexpected byte 0x${b.toString(16).padStart(2, "0")}`, pos);
}

/**
 * Checks that `buf` holds exactly one bencoded dictionary and returns the raw byte span of each of its values.
 *
 * @example
 * ```ts
 * const spans = topLevelSpans(new TextEncoder().encode("d4:infod1:ai1eee"));
 * spans.get("info"); // { start: 7, end: 15 }
 * ```
 */
export function topLevelSpans(buf: Uint8Array): Map<string, { start: number; end: number }> {
  if (buf[0] !== D) fail("expected a dictionary", 0);
  const end = scanValue(buf, 0);
  if (end !== buf.length) fail(`${buf.length - end} bytes of trailing data`, end);
  return dictSpans(buf, 0);
}

/**
 * The raw byte span of each value of the dictionary at `pos` in `buf`, which `scanValue` has checked (a later
 * duplicate key wins, as in decoding).
 */
export function dictSpans(buf: Uint8Array, pos: number): Map<string, { start: number; end: number }> {
  const spans = new Map<string, { start: number; end: number }>();
  const cursor = new BencodeCursor(buf, pos + 1);
  while (cursor.more()) {
    const key = cursor.key();
    const start = cursor.pos;
    cursor.skip();
    spans.set(key, { start, end: cursor.pos });
  }
  return spans;
}

/**
 * Reads input that `scanValue` has already checked, value by value from `pos` on, without building what it does
 * not need to: a reader of a long list takes each item apart and keeps only what it wants. `value()` decodes as
 * npm:bencode does (byte strings as `Uint8Array`, dictionary keys as strings, integers as numbers), except that
 * byte strings are views into `buf`, not copies (a torrent of 10,000 files made some 30,000 small buffers that
 * way), and a `__proto__` key is an own property like any other.
 */
export class BencodeCursor {
  readonly #text = new TextDecoder();
  /** Keys seen: where each stands in `buf`, its length in bytes, and its text; three entries a key. */
  readonly #keys: (number | string)[] = [];

  /** A cursor at `pos` in `buf`. */
  constructor(readonly buf: Uint8Array, public pos: number) {}

  /** What the next value is: `i` integer, `l` list, `d` dictionary, `s` byte string. */
  kind(): "i" | "l" | "d" | "s" {
    const b = this.buf[this.pos];
    return b === I ? "i" : b === L ? "l" : b === D ? "d" : "s";
  }

  /** Steps into the list or dictionary at the cursor. */
  open(): void {
    this.pos++;
  }

  /** Whether the list or dictionary the cursor is in has more; at its end, steps out of it. */
  more(): boolean {
    if (this.buf[this.pos] !== E) return true;
    this.pos++;
    return false;
  }

  /** Steps over the next value. */
  skip(): void {
    this.pos = scanValue(this.buf, this.pos);
  }

  /** The next value, decoded (byte strings as views of `buf`). */
  value(): unknown {
    const { buf } = this;
    const b = buf[this.pos];
    if (b === I) return this.integer();
    if (b === L) {
      const list: unknown[] = [];
      this.open();
      while (this.more()) list.push(this.value());
      return list;
    }
    if (b === D) {
      const dict: Record<string, unknown> = {};
      this.open();
      while (this.more()) {
        const key = this.key();
        const value = this.value();
        if (key === "__proto__") {
          Object.defineProperty(dict, key, { value, enumerable: true, writable: true, configurable: true });
        } else dict[key] = value;
      }
      return dict;
    }
    return this.bytes();
  }

  /** The integer at the cursor. */
  integer(): number {
    const { buf } = this;
    let i = this.pos + 1;
    const negative = buf[i] === MINUS;
    if (negative) i++;
    let n = 0;
    for (; buf[i] !== E; i++) n = n * 10 + (buf[i] - 0x30);
    this.pos = i + 1;
    return negative ? -n : n;
  }

  /** The byte string at the cursor, as a view of `buf`. */
  bytes(): Uint8Array {
    const start = this.#string();
    return this.buf.subarray(start, this.pos);
  }

  /** Steps over the byte string at the cursor; returns where its bytes start (they end at the new `pos`). */
  #string(): number {
    const { buf } = this;
    let i = this.pos;
    let length = 0;
    for (; buf[i] !== COLON; i++) length = length * 10 + (buf[i] - 0x30);
    this.pos = i + 1 + length;
    return i + 1;
  }

  /** The byte string at the cursor as UTF-8 text (invalid sequences become U+FFFD). */
  text(): string {
    return this.#text.decode(this.bytes());
  }

  /**
   * A dictionary key as text. Keys repeat (a torrent of 10,000 files says "length" and "path" 10,000 times each),
   * so the first few distinct ones are kept and a key equal to one of them costs no allocation at all.
   */
  key(): string {
    const { buf } = this;
    const start = this.#string();
    const length = this.pos - start;
    const keys = this.#keys;
    for (let k = 0; k < keys.length; k += 3) {
      const at = keys[k] as number;
      if (keys[k + 1] !== length) continue;
      let j = 0;
      while (j < length && buf[at + j] === buf[start + j]) j++;
      if (j === length) return keys[k + 2] as string;
    }
    const key = this.#text.decode(buf.subarray(start, this.pos));
    if (keys.length < 3 * KEPT_KEYS) keys.push(start, length, key);
    return key;
  }
}

/** How many distinct dictionary keys a `BencodeCursor` keeps for reuse. */
const KEPT_KEYS = 32;
