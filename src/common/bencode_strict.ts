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
  const spans = new Map<string, { start: number; end: number }>();
  const decoder = new TextDecoder();
  let i = 1;
  while (buf[i] !== E) {
    const key = scanString(buf, i);
    const valueEnd = scanValue(buf, key.end);
    spans.set(decoder.decode(buf.subarray(key.start, key.end)), { start: key.end, end: valueEnd });
    i = valueEnd;
  }
  return spans;
}

/**
 * Decodes one bencoded value as npm:bencode does (byte strings as `Uint8Array`, dictionary keys as strings,
 * integers as numbers), except that byte strings are views into `buf`, not copies: a torrent of 10,000 files made
 * some 30,000 small buffers that way, which outlived the young generation while the torrent was read. A
 * `__proto__` key is an own property like any other. Throws SyntaxError on anything `scanValue` refuses.
 */
export function decodeViews(buf: Uint8Array): unknown {
  const end = scanValue(buf, 0);
  if (end !== buf.length) fail(`${buf.length - end} bytes of trailing data`, end);
  const reader = new ViewReader(buf);
  return reader.value();
}

/** Reads values `scanValue` has already checked, from `pos` on. */
class ViewReader {
  pos = 0;
  readonly #text = new TextDecoder();

  constructor(readonly buf: Uint8Array) {}

  value(): unknown {
    const { buf } = this;
    const b = buf[this.pos];
    if (b === I) return this.#integer();
    if (b === L) {
      const list: unknown[] = [];
      this.pos++;
      while (buf[this.pos] !== E) list.push(this.value());
      this.pos++;
      return list;
    }
    if (b === D) {
      const dict: Record<string, unknown> = {};
      this.pos++;
      while (buf[this.pos] !== E) {
        const key = this.#key(this.#string());
        const value = this.value();
        if (key === "__proto__") {
          Object.defineProperty(dict, key, { value, enumerable: true, writable: true, configurable: true });
        } else dict[key] = value;
      }
      this.pos++;
      return dict;
    }
    return this.#string();
  }

  #integer(): number {
    const { buf } = this;
    let i = this.pos + 1;
    const negative = buf[i] === MINUS;
    if (negative) i++;
    let n = 0;
    for (; buf[i] !== E; i++) n = n * 10 + (buf[i] - 0x30);
    this.pos = i + 1;
    return negative ? -n : n;
  }

  #string(): Uint8Array {
    const { buf } = this;
    let i = this.pos;
    let length = 0;
    for (; buf[i] !== COLON; i++) length = length * 10 + (buf[i] - 0x30);
    this.pos = i + 1 + length;
    return buf.subarray(i + 1, this.pos);
  }

  /** A key as text: ASCII keys (all of a torrent's) without a decoder. */
  #key(bytes: Uint8Array): string {
    let s = "";
    for (let i = 0; i < bytes.length; i++) {
      if (bytes[i] >= 0x80) return this.#text.decode(bytes);
      s += String.fromCharCode(bytes[i]);
    }
    return s;
  }
}
