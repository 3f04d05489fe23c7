/**
 * Bench payloads of any size without holding them in memory: a 16 MiB block of random bytes repeated, so the
 * piece hashes repeat too and a 4 GiB torrent is built from 16 MiB of hashing.
 */

import bencode from "bencode";
import { concat, sha1 } from "../src/common/bytes.ts";

export const BLOCK = 16 * 1024 * 1024;

/** Writes `size` bytes (a multiple of 16 MiB) to `path` unless a file of that size is there; returns the block. */
export async function writePayload(path: string, size: number, seed = 7): Promise<Uint8Array> {
  const block = new Uint8Array(BLOCK);
  let x = seed;
  for (let i = 0; i < BLOCK; i += 4) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    new DataView(block.buffer).setInt32(i, x);
  }
  const stat = await Deno.stat(path).catch(() => null);
  if (stat?.size === size) return block;
  await Deno.mkdir(path.slice(0, path.lastIndexOf("/")), { recursive: true });
  const file = await Deno.open(path, { write: true, create: true, truncate: true });
  for (let at = 0; at < size; at += BLOCK) {
    for (let w = 0; w < BLOCK;) w += await file.write(block.subarray(w));
  }
  file.close();
  return block;
}

/** A single-file torrent of the repeated block: hashes of one block, repeated. */
export async function makeBenchTorrent(opts: {
  name: string;
  size: number;
  pieceLength: number;
  block: Uint8Array;
  announce?: string;
  /** `url-list` (BEP 19). */
  webSeeds?: string[];
}): Promise<Uint8Array> {
  if (BLOCK % opts.pieceLength !== 0 || opts.size % BLOCK !== 0) throw new Error("sizes must divide 16 MiB");
  const hashes: Uint8Array[] = [];
  for (let at = 0; at < BLOCK; at += opts.pieceLength) {
    hashes.push(await sha1(opts.block.subarray(at, at + opts.pieceLength)));
  }
  const one = concat(hashes);
  const pieces = new Uint8Array(one.length * (opts.size / BLOCK));
  for (let i = 0; i < opts.size / BLOCK; i++) pieces.set(one, i * one.length);
  return bencode.encode({
    ...(opts.announce ? { announce: opts.announce } : {}),
    info: { length: opts.size, name: opts.name, "piece length": opts.pieceLength, pieces },
    ...(opts.webSeeds ? { "url-list": opts.webSeeds } : {}),
  });
}

/**
 * Writes `count` files of 4-60 KiB (sizes and contents drawn from `block`, the same every time) under `root`, a
 * hundred to a folder, unless the last of them is already there; returns their total size.
 */
export async function writeFileTree(root: string, count: number, block: Uint8Array): Promise<number> {
  let x = 0x9e3779b9, total = 0;
  const next = () => (x = (x * 1664525 + 1013904223) >>> 0);
  const files = Array.from({ length: count }, (_, i) => {
    const size = 4096 + (next() % (56 * 1024));
    const from = next() % (block.length - size);
    total += size;
    const name = `${root}/d${String(Math.floor(i / 100)).padStart(3, "0")}/f${
      String(i).padStart(5, "0")
    }.bin`;
    return { name, size, from };
  });
  const last = files[count - 1];
  if ((await Deno.stat(last.name).catch(() => null))?.size === last.size) return total;
  await Deno.remove(root, { recursive: true }).catch(() => {});
  for (const f of files) {
    await Deno.mkdir(f.name.slice(0, f.name.lastIndexOf("/")), { recursive: true });
    await Deno.writeFile(f.name, block.subarray(f.from, f.from + f.size));
  }
  return total;
}
