/**
 * SHA-1 (FIPS 180-4) in WebAssembly, for hashing many small pieces. `node:crypto` makes a `Hash` object for every
 * digest, a few hundred bytes of JavaScript and a native hasher that only a full collection frees: 65,536 pieces
 * of 16 KiB left tens of MiB of them behind. This one allocates nothing per digest: the data is copied into the
 * module's memory, padded there and hashed by one call.
 *
 * The module is written here, instruction by instruction (no tool to assemble it on a fresh machine): `compress`
 * runs the 80 rounds unrolled, with the five working variables and the 16-word message schedule in locals.
 *
 * @module
 */

/** Where the five state words live in the module's memory, and where the data to hash starts. */
const STATE = 0, INPUT = 64;

// Opcodes used below (WebAssembly core specification, binary format).
const LOCAL_GET = 0x20, LOCAL_SET = 0x21, I32_CONST = 0x41, I32_LOAD = 0x28, I32_STORE = 0x36;
const I32_ADD = 0x6a, I32_SUB = 0x6b, I32_AND = 0x71, I32_OR = 0x72, I32_XOR = 0x73, I32_ROTL = 0x77;
const I32_ROTR = 0x78, I32_EQZ = 0x45, BLOCK = 0x02, LOOP = 0x03, BR = 0x0c, BR_IF = 0x0d, END = 0x0b;
const VOID = 0x40, I32 = 0x7f;

function leb(n: number, signed = false): number[] {
  const out: number[] = [];
  for (;;) {
    const byte = n & 0x7f;
    n = signed ? n >> 7 : n >>> 7;
    const done = signed ? (n === 0 && !(byte & 0x40)) || (n === -1 && (byte & 0x40)) : n === 0;
    out.push(done ? byte : byte | 0x80);
    if (done) return out;
  }
}

function section(id: number, body: number[]): number[] {
  return [id, ...leb(body.length), ...body];
}

/** The body of `compress(ptr, blocks)`: hashes `blocks` 64-byte blocks from `ptr` into the state at `STATE`. */
function compressBody(): number[] {
  // Locals: 0 ptr, 1 blocks (parameters); 2-6 the state as read (h0-h4); 7-11 a-e; 12-27 the schedule w0-w15.
  const PTR = 0, BLOCKS = 1, H = 2, V = 7, W = 12;
  const code: number[] = [];
  const get = (i: number) => code.push(LOCAL_GET, i);
  const set = (i: number) => code.push(LOCAL_SET, i);
  const constant = (n: number) => code.push(I32_CONST, ...leb(n | 0, true));
  for (let i = 0; i < 5; i++) code.push(I32_CONST, 0, I32_LOAD, 2, STATE + 4 * i), set(H + i);
  code.push(BLOCK, VOID, LOOP, VOID);
  get(BLOCKS), code.push(I32_EQZ, BR_IF, 1);
  for (let i = 0; i < 5; i++) get(H + i), set(V + i);
  for (let t = 0; t < 80; t++) {
    const w = W + (t % 16);
    if (t < 16) {
      // A big-endian word: a little-endian load with its bytes swapped by two rotations.
      get(PTR), code.push(I32_LOAD, 0, ...leb(4 * t)), set(w);
      get(w), constant(8), code.push(I32_ROTL), constant(0x00ff00ff), code.push(I32_AND);
      get(w), constant(8), code.push(I32_ROTR), constant(0xff00ff00), code.push(I32_AND, I32_OR);
      set(w);
    } else {
      get(W + ((t - 3) % 16)), get(W + ((t - 8) % 16)), code.push(I32_XOR);
      get(W + ((t - 14) % 16)), code.push(I32_XOR), get(w), code.push(I32_XOR);
      constant(1), code.push(I32_ROTL), set(w);
    }
    // The five variables rotate roles instead of moving: in round t, a is V + (-t mod 5).
    const role = (k: number) => V + ((k - t) % 5 + 5) % 5;
    const [a, b, c, d, e] = [role(0), role(1), role(2), role(3), role(4)];
    // e += rotl(a, 5) + f(b, c, d) + K + w; b = rotl(b, 30); then e is next round's a.
    get(e), get(a), constant(5), code.push(I32_ROTL, I32_ADD);
    if (t < 20) { // (b & c) | (~b & d), as d ^ (b & (c ^ d))
      get(d), get(b), get(c), get(d), code.push(I32_XOR, I32_AND, I32_XOR), constant(0x5a827999);
    } else if (t < 40 || t >= 60) { // b ^ c ^ d
      get(b),
        get(c),
        code.push(I32_XOR),
        get(d),
        code.push(I32_XOR),
        constant(t < 40 ? 0x6ed9eba1 : 0xca62c1d6);
    } else { // majority: (b & c) | (d & (b | c))
      get(b), get(c), code.push(I32_AND), get(d), get(b), get(c), code.push(I32_OR, I32_AND, I32_OR);
      constant(0x8f1bbcdc);
    }
    code.push(I32_ADD, I32_ADD), get(w), code.push(I32_ADD), set(e);
    get(b), constant(30), code.push(I32_ROTL), set(b);
  }
  // After 80 rounds (a multiple of 5) the roles are back where they started.
  for (let i = 0; i < 5; i++) get(H + i), get(V + i), code.push(I32_ADD), set(H + i);
  get(PTR), constant(64), code.push(I32_ADD), set(PTR);
  get(BLOCKS), constant(1), code.push(I32_SUB), set(BLOCKS);
  code.push(BR, 0, END, END);
  for (let i = 0; i < 5; i++) code.push(I32_CONST, 0), get(H + i), code.push(I32_STORE, 2, STATE + 4 * i);
  code.push(END);
  const locals = [1, 26, I32]; // one group: 26 locals of type i32
  return [...leb(locals.length + code.length), ...locals, ...code];
}

function moduleBytes(): Uint8Array {
  const name = (s: string) => [s.length, ...new TextEncoder().encode(s)];
  return new Uint8Array([
    0x00,
    0x61,
    0x73,
    0x6d,
    0x01,
    0x00,
    0x00,
    0x00, // "\0asm", version 1
    ...section(1, [1, 0x60, 2, I32, I32, 0]), // type 0: (i32, i32) -> ()
    ...section(3, [1, 0]), // function 0 has type 0
    ...section(5, [1, 0, 1]), // one memory, at least one page
    ...section(7, [2, ...name("compress"), 0, 0, ...name("memory"), 2, 0]),
    ...section(10, [1, ...compressBody()]),
  ]);
}

/** SHA-1's initial state. */
const IV = [0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476, 0xc3d2e1f0];

function bigEndian(bytes: Uint8Array, at: number, word: number): void {
  bytes[at] = word >>> 24, bytes[at + 1] = word >>> 16, bytes[at + 2] = word >>> 8, bytes[at + 3] = word;
}

function littleEndian(bytes: Uint8Array, at: number, word: number): void {
  bytes[at] = word, bytes[at + 1] = word >>> 8, bytes[at + 2] = word >>> 16, bytes[at + 3] = word >>> 24;
}

/** A SHA-1 hasher for one input at a time, reusing one WebAssembly memory. */
export class Sha1 {
  readonly #compress: (ptr: number, blocks: number) => void;
  readonly #memory: WebAssembly.Memory;
  #bytes: Uint8Array;

  constructor() {
    const { exports } = new WebAssembly.Instance(
      new WebAssembly.Module(moduleBytes() as Uint8Array<ArrayBuffer>),
    );
    this.#compress = exports.compress as (ptr: number, blocks: number) => void;
    this.#memory = exports.memory as WebAssembly.Memory;
    this.#bytes = new Uint8Array(this.#memory.buffer);
  }

  /** The SHA-1 digest of `data`, written to `out` (20 bytes; a new array by default). */
  digest(data: Uint8Array, out: Uint8Array = new Uint8Array(20)): Uint8Array {
    const padded = Math.ceil((data.length + 9) / 64) * 64;
    if (INPUT + padded > this.#bytes.length) {
      this.#memory.grow(Math.ceil((INPUT + padded - this.#bytes.length) / 65536));
      this.#bytes = new Uint8Array(this.#memory.buffer);
    }
    const bytes = this.#bytes;
    bytes.set(data, INPUT);
    bytes.fill(0, INPUT + data.length, INPUT + padded);
    bytes[INPUT + data.length] = 0x80;
    // The length in bits, big-endian, in the last 8 bytes (inputs here are far below 2^53 bits).
    bigEndian(bytes, INPUT + padded - 8, Math.floor(data.length / 2 ** 29));
    bigEndian(bytes, INPUT + padded - 4, data.length << 3);
    for (let i = 0; i < 5; i++) littleEndian(bytes, STATE + 4 * i, IV[i]);
    this.#compress(INPUT, padded / 64);
    for (let i = 0; i < 20; i += 4) {
      out[i] = bytes[STATE + i + 3], out[i + 1] = bytes[STATE + i + 2];
      out[i + 2] = bytes[STATE + i + 1], out[i + 3] = bytes[STATE + i];
    }
    return out;
  }
}
