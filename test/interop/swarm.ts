/**
 * A local swarm of real BitTorrent programs for interop tests: opentracker and seeders from Debian packages, all on
 * 127.0.0.1. Every process is started here and stopped by its PID.
 */

import bencode from "bencode";
import { cliArgs, cliCommand } from "../helpers/cli.ts";
import { freePort, waitForPort, waitForUtp } from "../helpers/ports.ts";

export const HERE = new URL(".", import.meta.url).pathname;

/** Whether a program is installed, so a suite can skip cleanly where it is not. */
export function installed(program: string): boolean {
  try {
    return new Deno.Command("sh", { args: ["-c", `command -v ${program}`], stdout: "null" }).outputSync()
      .success;
  } catch {
    return false;
  }
}

/** A started program; `stop()` ends it by PID (SIGTERM, then SIGKILL after 5 s). */
export class Program {
  readonly child: Deno.ChildProcess;
  constructor(
    readonly name: string,
    cmd: string,
    args: string[],
    cwd?: string,
    env?: Record<string, string>,
  ) {
    this.child = new Deno.Command(cmd, { args, cwd, env, stdin: "null", stdout: "piped", stderr: "piped" })
      .spawn();
    // Drain output so the program never blocks on a full pipe.
    this.output = Promise.all([
      new Response(this.child.stdout).text(),
      new Response(this.child.stderr).text(),
    ])
      .then(([o, e]) => o + e);
  }
  readonly output: Promise<string>;
  /** The port it listens on, for the programs that listen. */
  port?: number;

  get pid(): number {
    return this.child.pid;
  }

  async stop(): Promise<void> {
    try {
      Deno.kill(this.pid, "SIGTERM");
    } catch { /* already gone */ }
    const timer = setTimeout(() => {
      try {
        Deno.kill(this.pid, "SIGKILL");
      } catch { /* gone */ }
    }, 5000);
    await this.child.status;
    clearTimeout(timer);
    await this.output;
  }
}

/** opentracker on 127.0.0.1:port (HTTP and UDP), whitelisting `infoHashes` (Debian builds it whitelist-only). */
export async function startOpentracker(dir: string, port: number, infoHashes: string[]): Promise<Program> {
  await Deno.mkdir(dir, { recursive: true, mode: 0o755 });
  await Deno.chmod(dir, 0o755);
  await Deno.writeTextFile(`${dir}/whitelist.txt`, infoHashes.join("\n") + "\n", { mode: 0o644 });
  await Deno.writeTextFile(`${dir}/opentracker.conf`, "access.whitelist whitelist.txt\n", { mode: 0o644 });
  const program = new Program("opentracker", "opentracker", [
    "-i",
    "127.0.0.1",
    "-p",
    String(port),
    "-P",
    String(port),
    "-d",
    dir,
    "-f",
    `${dir}/opentracker.conf`,
  ], dir);
  await waitForPort(port);
  return program;
}

/**
 * libtorrent (python3-libtorrent) seeding `torrent` from `dir` in seed mode; with `transport` "utp" it speaks uTP
 * only (no TCP either way), "both" uTP and TCP.
 */
export async function startLibtorrent(
  torrent: string,
  dir: string,
  uploadLimit = 0,
  encryption?: "forced" | "disabled",
  transport?: "utp" | "both",
): Promise<Program> {
  const port = freePort();
  const args = [`${HERE}lt_seed.py`, torrent, dir, String(port), String(uploadLimit)];
  const env: Record<string, string> = {};
  if (encryption) env.LT_ENCRYPTION = encryption;
  if (transport) env.LT_TRANSPORT = transport;
  const p = new Program("libtorrent", "/usr/bin/python3", args, undefined, env);
  p.port = port;
  await (transport === "utp" ? waitForUtp(port) : waitForPort(port));
  return p;
}

/** aria2c on 127.0.0.1 only, with DHT, LSD and peer exchange off, listening on `port`, its files in `dir`. */
function aria2Loopback(port: number, dir: string): string[] {
  return [
    "--enable-dht=false",
    "--enable-dht6=false",
    "--bt-enable-lpd=false",
    "--enable-peer-exchange=false",
    "--interface=127.0.0.1",
    `--listen-port=${port}`,
    `--dir=${dir}`,
  ];
}

/** aria2c seeding `torrent` from `dir` without a hash check. */
export async function startAria2(
  torrent: string,
  dir: string,
  uploadLimit = 0,
  extra: string[] = [],
): Promise<Program> {
  const port = freePort();
  const p = new Program("aria2c", "aria2c", [
    ...aria2Loopback(port, dir),
    ...extra,
    "--seed-ratio=0.0",
    "--bt-seed-unverified=true",
    "--check-integrity=false",
    "--summary-interval=0",
    "--console-log-level=warn",
    "--allow-overwrite=false",
    `--max-upload-limit=${uploadLimit}`,
    torrent,
  ]);
  p.port = port;
  await waitForPort(port);
  return p;
}

/**
 * rtorrent seeding `torrent` from `dir` on `port`, daemon mode, loopback only, its session in `session`; `extra`
 * configuration lines join the others. It hashes the data before it listens: this does not wait for that.
 */
export async function spawnRtorrent(
  torrent: string,
  dir: string,
  session: string,
  port: number,
  extra: string[] = [],
): Promise<Program> {
  await Deno.mkdir(session, { recursive: true });
  const rc = [
    `directory.default.set = ${dir}`,
    `session.path.set = ${session}`,
    `network.bind_address.set = 127.0.0.1`,
    `network.port_range.set = ${port}-${port}`,
    `network.port_random.set = no`,
    `dht.mode.set = disable`,
    `protocol.pex.set = no`,
    `trackers.use_udp.set = no`,
    ...extra,
    `system.daemon.set = true`,
    `load.start = ${torrent}`,
  ].join("\n");
  await Deno.writeTextFile(`${session}/rtorrent.rc`, rc + "\n");
  const p = new Program("rtorrent", "rtorrent", ["-n", "-o", `import=${session}/rtorrent.rc`]);
  p.port = port;
  return p;
}

/** rtorrent seeding `torrent` from `dir` (it hashes the data first), daemon mode, loopback only. */
export async function startRtorrent(torrent: string, dir: string, session: string): Promise<Program> {
  const p = await spawnRtorrent(torrent, dir, session, freePort(), [
    `protocol.encryption.set = allow_incoming,try_outgoing,enable_retry`,
  ]);
  await waitForPort(p.port!);
  return p;
}

/** The tracker's scrape of `infoHash`: how many seeders (`complete`) and leechers (`incomplete`) it lists. */
export async function scrape(
  announce: string,
  infoHash: Uint8Array,
): Promise<{ complete: number; incomplete: number }> {
  const hash = Array.from(infoHash, (b) => "%" + b.toString(16).padStart(2, "0")).join("");
  const url = announce.replace("/announce", "/scrape") + `?info_hash=${hash}`;
  const body = new Uint8Array(await (await fetch(url)).arrayBuffer());
  const files = (bencode.decode(body) as { files?: Record<string, unknown> }).files ?? {};
  const entry = Object.values(files)[0] as { complete?: number; incomplete?: number } | undefined;
  return { complete: entry?.complete ?? 0, incomplete: entry?.incomplete ?? 0 };
}

/** How many seeders of `infoHash` the tracker lists now. */
export async function scrapeSeeders(announce: string, infoHash: Uint8Array): Promise<number> {
  return (await scrape(announce, infoHash)).complete;
}

/** Polls the scrape until the tracker lists `count` leechers. */
export async function waitForLeechers(announce: string, infoHash: Uint8Array, count: number, ms = 20_000) {
  const end = Date.now() + ms;
  let incomplete = 0;
  while (Date.now() < end) {
    incomplete = (await scrape(announce, infoHash)).incomplete;
    if (incomplete >= count) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`the tracker lists ${incomplete} of ${count} leechers after ${ms} ms`);
}

/**
 * Polls the tracker's scrape until it lists `count` seeders (seeders announce asynchronously after starting). The
 * count can include seeders of earlier steps that left without saying so, and those may expire meanwhile, so this
 * only waits: after `ms` it goes on, and a missing seeder shows up as the download's own failure.
 */
export async function waitForSeeders(announce: string, infoHash: Uint8Array, count: number, ms = 20_000) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await scrapeSeeders(announce, infoHash) >= count) return;
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** A downloader started by `startLeecher`; `done` resolves when its copy is complete. */
export interface Leecher {
  program: Program;
  done: Promise<void>;
}

/** aria2c's arguments to download `torrent` into `dir` on loopback and exit once complete. */
export function aria2LeecherArgs(torrent: string, dir: string, port = freePort()): string[] {
  return [
    ...aria2Loopback(port, dir),
    "--seed-time=0",
    "--summary-interval=0",
    "--console-log-level=warn",
    "--file-allocation=none",
    torrent,
  ];
}

/** aria2c downloading `torrent` into `dir`; it exits by itself once complete (`--seed-time=0`). */
export function startAria2Leecher(torrent: string, dir: string): Leecher {
  const program = new Program("aria2c", "aria2c", aria2LeecherArgs(torrent, dir));
  return { program, done: exitedOk(program) };
}

/**
 * libtorrent downloading `torrent` (a file, or a magnet link) into `dir`; it exits once complete. `peer`
 * (host:port) is dialled besides what trackers give; `env` sets its session (`LT_ENCRYPTION`, `LT_TRANSPORT`).
 */
export function startLibtorrentLeecher(
  torrent: string,
  dir: string,
  peer?: string,
  env?: Record<string, string>,
): Leecher {
  const args = [`${HERE}lt_download.py`, torrent, dir, String(freePort()), ...peer ? [peer] : []];
  const program = new Program("libtorrent", "/usr/bin/python3", args, undefined, env);
  return { program, done: exitedOk(program) };
}

/** Resolves when `leecher` finished well; rejects with its output when it failed, or after `ms`. */
export function finished(leecher: Leecher, ms = 120_000): Promise<void> {
  let timer: ReturnType<typeof setTimeout>;
  return Promise.race([
    leecher.done,
    new Promise<never>((_, reject) =>
      timer = setTimeout(
        () => reject(new Error(`${leecher.program.name} did not finish in ${ms / 1000} s`)),
        ms,
      )
    ),
  ]).finally(() => clearTimeout(timer));
}

/**
 * transmission-cli downloading `torrent` into `dir`. It never exits by itself: its completion script writes a
 * marker that `done` waits for. It ignores 127.0.0.0/8 peers from the tracker, so the seeder must dial it.
 */
export async function startTransmissionLeecher(torrent: string, dir: string, work: string): Promise<Leecher> {
  const config = `${work}/tr-${crypto.randomUUID()}`;
  await Deno.mkdir(config, { recursive: true });
  const marker = `${config}/complete`;
  await Deno.writeTextFile(`${config}/done.sh`, `#!/bin/sh\ntouch ${marker}\n`, { mode: 0o755 });
  await Deno.writeTextFile(
    `${config}/settings.json`,
    JSON.stringify({
      "dht-enabled": false,
      "lpd-enabled": false,
      "pex-enabled": false,
      "utp-enabled": false,
      "port-forwarding-enabled": false,
      "bind-address-ipv4": "127.0.0.1",
      "encryption": 0,
    }),
  );
  const program = new Program("transmission", "transmission-cli", [
    "-g",
    config,
    "-w",
    dir,
    "-p",
    String(freePort()),
    "-f",
    `${config}/done.sh`,
    "-M",
    torrent,
  ]);
  const done = (async () => {
    for (;;) {
      if (await Deno.stat(marker).then(() => true, () => false)) return;
      await new Promise((r) => setTimeout(r, 200));
    }
  })();
  return { program, done };
}

async function exitedOk(p: Program): Promise<void> {
  const status = await p.child.status;
  if (!status.success) throw new Error(`${p.name} exited with ${status.code}: ${await p.output}`);
}

/** The real seeders the interop suites try, each alone and together. */
export const SEEDERS: {
  name: string;
  program: string;
  start: (torrent: string, dir: string, work: string) => Promise<Program>;
}[] = [
  { name: "libtorrent", program: "/usr/bin/python3", start: (t, d) => startLibtorrent(t, d) },
  { name: "aria2c", program: "aria2c", start: (t, d) => startAria2(t, d) },
  {
    name: "rtorrent",
    program: "rtorrent",
    start: (t, d, w) => startRtorrent(t, d, `${w}/rt-${crypto.randomUUID()}`),
  },
];

/** Waits for a child's output, killing it (by its PID) if it runs longer than `ms`. */
export async function outputWithin(child: Deno.ChildProcess, ms: number): Promise<Deno.CommandOutput> {
  const timer = setTimeout(() => {
    try {
      Deno.kill(child.pid, "SIGKILL");
    } catch { /* exited */ }
  }, ms);
  try {
    return await child.output();
  } finally {
    clearTimeout(timer);
  }
}

/** Runs our CLI with `args` (plus a free port and a 30 s no-peers time-out); killed after `timeoutMs`. */
export async function runCli(args: string[], timeoutMs = 120_000): Promise<{ code: number; text: string }> {
  const child = cliCommand([...args, "--port", String(freePort()), "--no-peers-timeout", "30"]).spawn();
  const result = await outputWithin(child, timeoutMs);
  return {
    code: result.code,
    text: new TextDecoder().decode(result.stdout) + new TextDecoder().decode(result.stderr),
  };
}

/** Our `seed` of `torrent` from `data` on a free port (in `port`): wait for it with `waitForPort` or `waitForUtp`. */
export function startOurSeed(torrent: string, data: string): Program {
  const port = freePort();
  const args = cliArgs(["seed", torrent, data, "--port", String(port), "-q"]);
  const seed = new Program("ours", Deno.execPath(), args);
  seed.port = port;
  return seed;
}
