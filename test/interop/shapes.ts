/** Torrent shapes for the interop suites, and how to build each one's payload and .torrent. */

import assert from "node:assert/strict";
import { parseMetainfo } from "../../src/metainfo/metainfo.ts";
import { makeTorrent, payload } from "../helpers/make_torrent.ts";
import { type Program, startOpentracker } from "./swarm.ts";
import { freePort } from "../helpers/ports.ts";
import { runCli } from "../helpers/cli.ts";

export interface Shape {
  name: string;
  pieceLength: number;
  files: { path: string[]; size: number }[];
  multiFile: boolean;
  /** Who makes the .torrent: mktorrent (default), or our own `create`. */
  maker?: "ours";
}

export const SHAPES: Shape[] = [
  {
    name: "s16k.bin",
    pieceLength: 16 * 1024,
    multiFile: false,
    files: [{ path: [], size: 1024 * 1024 + 777 }],
  },
  {
    name: "s256k.bin",
    pieceLength: 256 * 1024,
    multiFile: false,
    files: [{ path: [], size: 24 * 1024 * 1024 + 12345 }],
  },
  {
    name: "m4m",
    pieceLength: 4 * 1024 * 1024,
    multiFile: true,
    files: [
      { path: ["big.bin"], size: 9 * 1024 * 1024 + 1 },
      { path: ["docs", "readme.txt"], size: 3 * 1024 * 1024 + 5 },
      { path: ["docs", "deep", "tail.dat"], size: 100_000 },
    ],
  },
  {
    name: "m64k",
    pieceLength: 64 * 1024,
    multiFile: true,
    files: Array.from(
      { length: 9 },
      (_, i) => ({ path: [`part${i}`, `f${i}.bin`], size: 13_333 * (i + 1) * 7 }),
    ),
  },
];

/** Made by our `create`, with an empty file: what the upload suite gives the other clients. */
export const CREATED: Shape = {
  name: "m32k-created",
  pieceLength: 32 * 1024,
  multiFile: true,
  maker: "ours",
  files: [
    { path: ["a.bin"], size: 300_001 },
    { path: ["empty.txt"], size: 0 },
    { path: ["sub", "b.bin"], size: 77_777 },
  ],
};

/** Writes the shape's payload under `seedDir` and makes its torrent, private unless `isPrivate` is false. */
export async function prepare(
  shape: Shape,
  seedDir: string,
  work: string,
  announce: string,
  isPrivate = true,
) {
  const files = shape.files.map((f, i) => ({ path: f.path, data: payload(f.size, i + 11) }));
  const base = `${seedDir}/${shape.name}`;
  for (const f of files) {
    const path = shape.multiFile ? `${base}/${f.path.join("/")}` : base;
    await Deno.mkdir(path.slice(0, path.lastIndexOf("/")), { recursive: true });
    await Deno.writeFile(path, f.data);
  }
  const torrentPath = `${work}/${shape.name}.torrent`;
  if (shape.maker === "ours") {
    const size = String(shape.pieceLength);
    const flags = ["--piece-size", size, "--tracker", announce, ...(isPrivate ? ["--private"] : []), "-q"];
    const made = await runCli(["create", base, "-o", torrentPath, ...flags]);
    assert.equal(made.code, 0, made.stderr);
  } else if (shape.pieceLength < 32 * 1024) {
    // mktorrent 1.1 takes piece sizes from 32 KiB: build this one with our own encoder.
    const { torrent } = await makeTorrent({
      name: shape.name,
      files: files.map((f) => ({ path: shape.multiFile ? f.path : [shape.name], data: f.data })),
      pieceLength: shape.pieceLength,
      announce,
      multiFile: shape.multiFile,
      private: isPrivate,
    });
    await Deno.writeFile(torrentPath, torrent);
  } else {
    const out = await new Deno.Command("mktorrent", {
      args: [
        ...(isPrivate ? ["-p"] : []),
        ...["-a", announce, "-l", String(Math.log2(shape.pieceLength)), "-o", torrentPath, base],
      ],
      stdout: "null",
      stderr: "piped",
    }).output();
    assert(out.success, new TextDecoder().decode(out.stderr));
  }
  const meta = await parseMetainfo(await Deno.readFile(torrentPath));
  return { files, torrentPath, meta };
}

/**
 * A work folder (world-readable, for opentracker's chroot) with `shapes` prepared under `seed/`, and opentracker
 * on a free port whitelisting them. The caller stops the tracker and removes `work`.
 */
export async function preparedSwarm(prefix: string, shapes: Shape[]): Promise<{
  work: string;
  seedDir: string;
  announce: string;
  prepared: ({ shape: Shape } & Awaited<ReturnType<typeof prepare>>)[];
  tracker: Program;
}> {
  const work = await Deno.makeTempDir({ prefix });
  await Deno.chmod(work, 0o755);
  const seedDir = `${work}/seed`;
  const trackerPort = freePort();
  const announce = `http://127.0.0.1:${trackerPort}/announce`;
  const prepared = [];
  for (const shape of shapes) prepared.push({ shape, ...(await prepare(shape, seedDir, work, announce)) });
  const tracker = await startOpentracker(
    `${work}/tracker`,
    trackerPort,
    prepared.map((p) => p.meta.infoHashHex),
  );
  return { work, seedDir, announce, prepared, tracker };
}

/**
 * One shape in a fresh work folder, its torrent naming a tracker that never answers: every peer is given by
 * address. The seeders' copy is under `seedDir`.
 */
export async function addressOnly(prefix: string, name: string) {
  const work = await Deno.makeTempDir({ prefix });
  const shape = SHAPES.find((s) => s.name === name)!;
  const seedDir = `${work}/seed`;
  const { files, torrentPath } = await prepare(shape, seedDir, work, "http://127.0.0.1:9/announce");
  return { work, shape, seedDir, torrentPath, payload: files[0].data };
}
