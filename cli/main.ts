/**
 * The command line: the only place that reads arguments, prints and exits.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { type DownloadOptions, type DownloadSession, startDownload } from "../actors/client.ts";
import { isMagnet, type Magnet, parseMagnet, torrentFromMetadata } from "../src/metainfo/magnet.ts";
import { type Metainfo, parseMetainfo } from "../src/metainfo/metainfo.ts";
import { createCommand } from "./create.ts";
import { dhtOption } from "./dht_options.ts";
import { printInfo } from "./info.ts";
import { looksLikeAddress, Observers, peerLogger, replay, viz } from "./ui.ts";
import { formatBytes, formatDuration, progressLine } from "./progress_format.ts";
import { keepHeapSmall } from "./heap_keeper.ts";
import type { PeerAddress } from "../src/common/peer_address.ts";
import { UsageError } from "./usage_error.ts";

export const USAGE = `Usage: deno run -A mod.ts <file.torrent | magnet:?…> <out> [options]
       deno run -A mod.ts seed <file.torrent> <path> [options]
       deno run -A mod.ts info <file.torrent | magnet:?…> [--no-scrape]
       deno run -A mod.ts create <path> -o <file.torrent> [options]   (create --help for its options)
       deno run -A mod.ts replay <trace.jsonl> [--ui host:port]
       deno run -A mod.ts viz <dir>

Downloads a torrent, or a magnet link (its metadata first, from peers). <out> is the file for a single-file
torrent (or a folder to put it in), the folder for a multi-file torrent. Exits 0 only when every piece is verified
on disk. Other peers can download from us while we download. "seed" checks the data at <path> and seeds it;
incomplete data is an error. "info" prints what the torrent says and what its trackers count. "create"
makes a torrent of a file or a folder. "replay" shows
a recorded --trace in the live view. "viz" writes each state machine's diagram (Mermaid and SVG) under <dir>.

Options:
  -p, --port <n>             port to listen on, or the next free one (default 6881); announced to trackers
      --seed                 keep seeding after the download completes, until Ctrl-C
      --seed-ratio <r>       seed until we uploaded r times the torrent's size (implies --seed)
      --seed-time <t>        seed for this long: 90s, 30m, 2h, 1h30m (implies --seed)
      --max-peers <n>        peers connected at once (default 50)
      --peer <host:port>     also dial this peer (repeatable)
      --dht-bootstrap <host:port>  join the DHT through this node instead of the default routers (repeatable)
      --no-dht               do not use the DHT
      --no-utp               connect over TCP only (by default uTP is tried first, and accepted)
      --no-web-seeds         do not fetch from the torrent's web seeds (url-list, httpseeds)
      --encryption <mode>    peer encryption (MSE): prefer (default: try it, fall back to plaintext),
                             require (never plaintext), off (plaintext only)
      --no-peers-timeout <s> give up when no peer is connected for this long (default 120)
      --check                hash all existing data, even after a clean stop
      --save-torrent <file>  write the .torrent (for a magnet link: once its metadata is fetched)
      --ui [host:port]       serve a live view of every actor (default 127.0.0.1 and a free port)
      --trace <file.jsonl>   record every actor's transitions (and samples of the numbers) as JSON lines
      --inspect-ws <url>     send XState inspection events to a Stately WebSocket inspector at <url>
  -q, --quiet                print only errors and the final line
  -v, --verbose              log every peer actor's state changes and every DHT lookup
  -h, --help                 show this help
`;

/** `90s`, `30m`, `2h`, `1h30m`, or a number of seconds, in milliseconds. */
export function parseDuration(text: string): number {
  const m = /^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s?)?$/.exec(text.trim());
  if (!m || text.trim() === "" || (!m[1] && !m[2] && !m[3])) {
    throw new UsageError(`--seed-time "${text}" is not a duration like 90s, 30m, 2h or 1h30m`);
  }
  return ((Number(m[1] ?? 0) * 60 + Number(m[2] ?? 0)) * 60 + Number(m[3] ?? 0)) * 1000;
}

function seedOptions(
  values: { seed?: boolean; "seed-ratio"?: string; "seed-time"?: string },
): { ratio?: number; timeMs?: number } | undefined {
  const ratioText = values["seed-ratio"], timeText = values["seed-time"];
  if (!values.seed && ratioText === undefined && timeText === undefined) return undefined;
  const ratio = ratioText === undefined ? undefined : Number(ratioText);
  if (ratio !== undefined && !(ratio >= 0 && Number.isFinite(ratio))) {
    throw new UsageError(`--seed-ratio must be a number from 0 up, got "${ratioText}"`);
  }
  return { ratio, timeMs: timeText === undefined ? undefined : parseDuration(timeText) };
}

function integer(
  value: string | undefined,
  name: string,
  min: number,
  max: number,
  fallback: number,
): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new UsageError(`--${name} must be a whole number from ${min} to ${max}`);
  }
  return n;
}

/** Parses `host:port` or `[v6]:port`. */
export function parsePeer(text: string, flag = "--peer"): PeerAddress {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(text) ?? /^([^:]+):(\d+)$/.exec(text);
  const port = m ? Number(m[2]) : 0;
  if (!m || port < 1 || port > 65535) throw new UsageError(`${flag} "${text}" is not host:port`);
  return { host: m[1], port };
}

/** A .torrent file's metainfo, or a magnet link. */
async function readSource(arg: string): Promise<Metainfo | Magnet> {
  if (isMagnet(arg)) return parseMagnet(arg);
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(arg);
  } catch (e) {
    throw new Error(`cannot read ${arg}: ${(e as Error).message}`);
  }
  return await parseMetainfo(bytes);
}

/** Writes the .torrent of `meta`: its info dictionary byte for byte, with its trackers. */
async function saveTorrent(path: string, meta: Metainfo): Promise<void> {
  try {
    await Deno.writeFile(path, torrentFromMetadata(meta.rawInfo, meta.trackers, meta.webSeeds));
  } catch (e) {
    throw new Error(`cannot write ${path}: ${(e as Error).message}`);
  }
}

async function resolveOut(out: string, name: string, multiFile: boolean): Promise<string> {
  if (multiFile) return out;
  const stat = await Deno.stat(out).catch(() => null);
  return stat?.isDirectory ? `${out.replace(/\/+$/, "")}/${name}` : out;
}

function watch(session: DownloadSession, quiet: boolean): () => void {
  if (quiet) return () => {};
  const tty = Deno.stderr.isTerminal();
  const encoder = new TextEncoder();
  let last = { at: Date.now(), bytes: session.progress().receivedBytes };
  let rate = 0;
  let lastPrint = 0;
  let lastTracker: string | undefined;
  const id = setInterval(() => {
    const p = session.progress();
    const now = Date.now();
    if (p.tracker !== lastTracker) {
      lastTracker = p.tracker;
      Deno.stderr.writeSync(encoder.encode(`${tty ? "\r\x1b[2K" : ""}tracker: ${p.tracker}\n`));
    }
    const instant = (p.receivedBytes - last.bytes) / ((now - last.at) / 1000);
    rate = rate === 0 ? instant : 0.7 * rate + 0.3 * instant;
    last = { at: now, bytes: p.receivedBytes };
    const line = progressLine(p, rate, tty ? 30 : 0);
    if (tty) Deno.stderr.writeSync(encoder.encode(`\r\x1b[2K${line}`));
    else if (now - lastPrint >= 5000) {
      lastPrint = now;
      Deno.stderr.writeSync(encoder.encode(line + "\n"));
    }
  }, 500);
  return () => {
    clearInterval(id);
    if (tty) Deno.stderr.writeSync(encoder.encode("\r\x1b[2K"));
  };
}

/** Runs the CLI with `args`; returns the exit code. Never throws. */
export async function main(args: string[]): Promise<number> {
  try {
    return await run(args);
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    console.error(`error: ${message}`);
    if (e instanceof UsageError) console.error("Try --help.");
    return e instanceof UsageError ? 2 : 1;
  }
}

async function run(args: string[]): Promise<number> {
  if (args[0] === "create") return await createCommand(args.slice(1));
  let parsed;
  try {
    // `--ui` takes an optional address: alone, it means a free port on 127.0.0.1.
    args = args.flatMap((a, i) =>
      a === "--ui" && !looksLikeAddress(args[i + 1]) ? ["--ui=127.0.0.1:0"] : [a]
    );
    parsed = parseArgs({
      args,
      allowPositionals: true,
      options: {
        port: { type: "string", short: "p" },
        "max-peers": { type: "string" },
        peer: { type: "string", multiple: true },
        "dht-bootstrap": { type: "string", multiple: true },
        "no-dht": { type: "boolean" },
        "no-utp": { type: "boolean" },
        "no-web-seeds": { type: "boolean" },
        encryption: { type: "string" },
        "no-peers-timeout": { type: "string" },
        check: { type: "boolean" },
        "save-torrent": { type: "string" },
        "no-scrape": { type: "boolean" },
        ui: { type: "string" },
        trace: { type: "string" },
        "inspect-ws": { type: "string" },
        seed: { type: "boolean" },
        "seed-ratio": { type: "string" },
        "seed-time": { type: "string" },
        quiet: { type: "boolean", short: "q" },
        verbose: { type: "boolean", short: "v" },
        help: { type: "boolean", short: "h" },
      },
    });
  } catch (e) {
    throw new UsageError((e as Error).message.split("\n")[0]);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (values.ui !== undefined && !looksLikeAddress(values.ui)) {
    throw new UsageError(`--ui "${values.ui}" is not host:port`);
  }
  if (positionals[0] === "replay") {
    if (positionals.length !== 2) throw new UsageError("expected replay <trace.jsonl>");
    return await replay(positionals[1], values.ui);
  }
  if (positionals[0] === "viz") {
    if (positionals.length !== 2) throw new UsageError("expected viz <dir>");
    return await viz(positionals[1]);
  }
  if (positionals[0] === "info") {
    if (positionals.length !== 2) throw new UsageError("expected info <file.torrent | magnet link>");
    await printInfo(await readSource(positionals[1]), !values["no-scrape"]);
    return 0;
  }
  const seedOnly = positionals[0] === "seed";
  if (seedOnly) positionals.shift();
  if (positionals.length !== 2) {
    throw new UsageError(
      seedOnly ? "expected seed <file.torrent> <path>" : "expected <file.torrent or magnet link> and <out>",
    );
  }
  const [torrentPath, outArg] = positionals;
  if (seedOnly && isMagnet(torrentPath)) {
    throw new UsageError("seed needs a .torrent file, not a magnet link");
  }
  const seed = seedOptions(values);
  const port = integer(values.port, "port", 1, 65535, 6881);
  const maxPeers = integer(values["max-peers"], "max-peers", 1, 1000, 50);
  const noPeers = integer(values["no-peers-timeout"], "no-peers-timeout", 1, 86400, 120);
  const peers = (values.peer ?? []).map((p) => parsePeer(p));
  const encryption = values.encryption ?? "prefer";
  if (encryption !== "prefer" && encryption !== "require" && encryption !== "off") {
    throw new UsageError(`--encryption must be prefer, require or off, got "${encryption}"`);
  }
  const dht = dhtOption(
    values["no-dht"],
    (values["dht-bootstrap"] ?? []).map((p) => parsePeer(p, "--dht-bootstrap")),
  );

  const source = await readSource(torrentPath);
  const quiet = values.quiet ?? false;
  const header = (meta: Metainfo, out: string) => {
    for (const warning of meta.warnings) console.error(`warning: ${warning}`);
    if (!quiet) {
      console.error(`${meta.name}: ${formatBytes(meta.totalLength)} in ${meta.pieceCount} pieces → ${out}`);
    }
  };
  let out = "";
  const chooseOut = async (meta: Metainfo) => {
    out = await resolveOut(outArg, meta.name, meta.multiFile);
    header(meta, out);
    if (values["save-torrent"]) await saveTorrent(values["save-torrent"], meta);
    return out;
  };
  if (!quiet && !("pieceCount" in source)) {
    console.error(
      `magnet ${source.infoHashHex}${source.name ? ` (${source.name})` : ""}: fetching metadata…`,
    );
  }

  const started = Date.now();
  const heap = keepHeapSmall();
  const observers = await Observers.create(
    { ui: values.ui, trace: values.trace, inspectWs: values["inspect-ws"] },
    values.verbose ? peerLogger() : undefined,
  );
  const inspect = observers.inspect;
  const session = startDownload(source, {
    out: chooseOut,
    port,
    maxPeers,
    peers,
    noPeersTimeoutMs: noPeers * 1000,
    inspect: inspect as DownloadOptions["inspect"],
    check: values.check,
    webSeeds: values["no-web-seeds"] ? false : undefined,
    encryption,
    utp: !values["no-utp"],
    seed: seed ?? (seedOnly ? {} : undefined),
    seedOnly,
    dht,
  });
  let interrupts = 0;
  const onSigint = () => {
    if (++interrupts > 1) Deno.exit(130);
    session.stop();
  };
  Deno.addSignalListener("SIGINT", onSigint);
  observers.attach(session);
  const unwatch = watch(session, quiet);
  const result = await session.done;
  unwatch();
  heap.stop();
  if (values.verbose && heap.keeper) {
    const { collections, collectingMs } = heap.keeper;
    console.error(`heap keeper: ${collections} full collections, ${Math.round(collectingMs)} ms in all`);
  }
  await observers.close(session);
  Deno.removeSignalListener("SIGINT", onSigint);

  const meta = session.meta;
  if (result.ok && meta) {
    const seconds = (Date.now() - started) / 1000;
    const received = result.stats?.receivedBytes ?? 0;
    const fetched = received > 0
      ? `fetched ${formatBytes(received)} at ${formatBytes(received / Math.max(seconds, 0.001))}/s`
      : "nothing to fetch";
    console.log(
      `Done: ${out} (${formatBytes(meta.totalLength)}, all ${meta.pieceCount} pieces verified) in ` +
        `${formatDuration(seconds)}, ${fetched}`,
    );
    return 0;
  }
  if (result.error) throw new Error(result.error);
  if (!out) {
    console.error("Stopped before the metadata arrived: nothing written");
    return 130;
  }
  console.error(`Stopped: ${formatBytes(session.progress().verifiedBytes)} verified and kept in ${out}`);
  return 130;
}
