import assert from "node:assert/strict";
import { isPlainHandshake, mseAccept, mseInitiate, PLAINTEXT, RC4 } from "../../src/crypto/mse.ts";
import { concat, toHex } from "../../src/common/bytes.ts";
import { encodeHandshake } from "../../src/wire/wire.ts";
import { duplex, type End } from "../helpers/duplex.ts";

const HASH = new Uint8Array(20).fill(0xab), OTHER = new Uint8Array(20).fill(0xcd);
const handshake = encodeHandshake(HASH, new Uint8Array(20).fill(1));
const enc = new TextEncoder();

async function readN(s: { read(b: Uint8Array): Promise<number | null> }, n: number): Promise<Uint8Array> {
  const out = new Uint8Array(n);
  for (let at = 0; at < n;) {
    const got = await s.read(out.subarray(at));
    if (got === null) throw new Error("closed");
    at += got;
  }
  return out;
}

/** Runs both sides; B reads its first 20 bytes itself, as a listener telling MSE from plaintext does. */
async function both(provide: number, allow: number, knobs = {}) {
  const [a, b] = duplex();
  const accepting =
    (async () =>
      mseAccept(b, await readN(b, 20), { infoHashes: [OTHER, HASH], allow, preferRc4: true }, knobs))();
  const [ra, rb] = await Promise.all([mseInitiate(a, HASH, provide, handshake, knobs), accepting]);
  return { a, b, ra, rb };
}

Deno.test("MSE: both sides agree on RC4; A's handshake arrives first, then data flows both ways encrypted", async () => {
  const { a, ra, rb } = await both(RC4 | PLAINTEXT, RC4 | PLAINTEXT);
  assert.equal(ra.transport, "rc4");
  assert.equal(rb.transport, "rc4");
  assert.equal(toHex(rb.infoHash), toHex(HASH), "B found the torrent among the two it serves");
  assert.deepEqual(await readN(rb.stream, handshake.length), handshake, "the initial payload comes first");
  const message = enc.encode("a piece of a piece");
  const before = a.sent.length;
  await ra.stream.write(message);
  assert.notDeepEqual(a.sent[before], message, "on the wire it is not plaintext");
  assert.deepEqual(await readN(rb.stream, message.length), message);
  await rb.stream.write(enc.encode("back"));
  assert.deepEqual(await readN(ra.stream, 4), enc.encode("back"));
});

Deno.test("MSE: a side that allows only plaintext gets an encrypted handshake and a plaintext payload", async () => {
  const { a, ra, rb } = await both(RC4 | PLAINTEXT, PLAINTEXT);
  assert.equal(ra.transport, "obfuscated");
  assert.deepEqual(await readN(rb.stream, handshake.length), handshake);
  const before = a.sent.length;
  await ra.stream.write(enc.encode("plain"));
  assert.deepEqual(a.sent[before], enc.encode("plain"), "the payload goes untouched");
  assert.deepEqual(await readN(rb.stream, 5), enc.encode("plain"));
});

Deno.test("MSE: A's public key is 2^x mod P for its private key (checked with BigInt), pads as long as asked", async () => {
  const key = new Uint8Array(20).fill(3);
  const { a } = await both(RC4, RC4, { privateKey: key, padLength: 7 });
  const P = BigInt(
    "0xFFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DDEF9519B3CD3A43" +
      "1B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A63A36210000000000090563",
  );
  let r = 1n, base = 2n, e = BigInt("0x" + toHex(key));
  while (e > 0n) {
    if (e & 1n) r = r * base % P;
    base = base * base % P;
    e >>= 1n;
  }
  const first = concat(a.sent);
  assert.equal(toHex(first.subarray(0, 96)), r.toString(16).padStart(192, "0"));
  // Ya, 7 bytes of pad, then req1: 20 bytes, req2 xor req3: 20, the encrypted head 16, and IA.
  assert.equal(first.length, 96 + 7 + 20 + 20 + 16 + handshake.length);
});

async function acceptFails(bytes: Uint8Array, then: "close" | "wait" = "close"): Promise<string> {
  const [a, b] = duplex();
  await a.write(bytes);
  if (then === "close") a.close();
  try {
    await mseAccept(b, await readN(b, 20), { infoHashes: [HASH], allow: RC4 | PLAINTEXT });
  } catch (e) {
    return (e as Error).message;
  }
  throw new Error("it was accepted");
}

/** A real initiator whose bytes pass a relay that XORs `mask` into the byte at offset `at` of what A sent. */
async function tampered(at: number, mask: number): Promise<string> {
  const [a, b] = duplex();
  const [c, d] = duplex();
  const pump = async (from: End, to: End, change: boolean) => {
    const buf = new Uint8Array(4096);
    let offset = 0, n;
    while ((n = await from.read(buf)) !== null) {
      const chunk = buf.slice(0, n);
      if (change && at >= offset && at < offset + n) chunk[at - offset] ^= mask;
      offset += n;
      await to.write(chunk).catch(() => {});
    }
  };
  pump(b, c, true);
  pump(c, b, false);
  mseInitiate(a, HASH, RC4, handshake, { padLength: 0 }).catch(() => {});
  try {
    await mseAccept(d, await readN(d, 20), { infoHashes: [HASH], allow: RC4 });
  } catch (e) {
    return (e as Error).message;
  } finally {
    a.close();
    d.close();
    b.close();
    c.close();
  }
  throw new Error("it was accepted");
}

Deno.test("MSE: garbage, a closed peer, an unknown torrent, a wrong VC and an oversized pad fail in one line", async () => {
  assert.match(await acceptFails(new Uint8Array(700).fill(7), "wait"), /no req1 within 512 bytes/);
  assert.match(
    await acceptFails(new Uint8Array(100).fill(7)),
    /closed the connection during the encryption handshake/,
  );
  // req2 xor req3 names another torrent: flip a byte of it.
  assert.match(await tampered(96 + 25, 1), /a torrent we do not serve/);
  assert.match(await tampered(96 + 40, 1), /wrong verification constant/);
  // len(PadC) is bytes 12-13 of the encrypted head: XOR with 0x0300 makes it 768 whatever the keystream.
  assert.match(await tampered(96 + 40 + 12, 3), /pad of 768 bytes \(more than 512\)/);
  const [a] = duplex();
  await assert.rejects(
    Promise.race([
      mseInitiate(a, HASH, RC4, handshake),
      new Promise((_, reject) => setTimeout(() => (a.close(), reject(new Error("stalled"))), 100)),
    ]),
    /closed the connection during the encryption handshake|stalled/,
  );
});

Deno.test("a plaintext handshake is told from an MSE one by its first 20 bytes", () => {
  assert.equal(isPlainHandshake(handshake.subarray(0, 20)), true);
  assert.equal(isPlainHandshake(new Uint8Array(20).fill(19)), false);
});
