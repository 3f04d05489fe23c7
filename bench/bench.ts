/**
 * `deno task bench`: whole downloads from a local swarm of real clients (opentracker, libtorrent, rtorrent), our
 * client side by side with aria2c and libtorrent in the same run, alternating, several rounds. Prints medians of
 * seconds, MiB/s, CPU seconds and peak RSS, with our figures as ratios to the others', and writes them as JSON.
 * A fresh swarm serves its first downloads slower, whoever asks (the seeders map and fault in their data), so
 * each scenario starts with untimed warm-up downloads, and each round starts with the next client in turn.
 *
 *   deno task bench [--scenario a,b,...|all] [--rounds 3] [--clients ours,ours-ui,aria2c,libtorrent]
 *                   [--warmup 1] [--out bench/results/latest.json] [--dir /tmp/actorrent-bench]
 *
 * Scenarios: a) 1 GiB from libtorrent + rtorrent, 256 KiB pieces; b) the same with 4 MiB pieces; c) 16 KiB
 * pieces; d) every seeder behind a relay that adds 50 ms each way (256 MiB); e) 4 GiB; f) 21 seeders; p) 200
 * seeders, each client allowed 200 peers; g) no peer, only a web seed (a local HTTP server); h) not a download:
 * `create` hashing 1 GiB against mktorrent and transmission-create (the file sits in the page cache: this measures
 * hashing, not the disk); i) two libtorrent seeders that force RC4 (MSE) both ways, no rtorrent; j2 and j10) 2,000
 * and 10,000 files of 4-60 KiB (64 KiB pieces), and j0) 320 MiB in one file (about j10's size; payloads come in 16
 * MiB), for the time per byte; k) two libtorrent seeders speaking uTP and TCP (no rtorrent): libtorrent leeches
 * over uTP alone, ours as typed (uTP first) and as `ours-tcp` (`--no-utp`). `ours` is our client as a user types
 * it, `deno run -A mod.ts` (no V8 flags); `ours-ui` the same with `--ui` and a viewer attached, for the live view's
 * cost. Everything runs on 127.0.0.1 and every process started here is stopped by its PID.
 */

import { parseArgs } from "node:util";
import { startTracker } from "../test/helpers/test_tracker.ts";
import { parseMetainfo } from "../src/metainfo/metainfo.ts";
import {
  aria2LeecherArgs,
  HERE as INTEROP,
  Program,
  spawnRtorrent,
  startOpentracker,
  waitForSeeders,
} from "../test/interop/swarm.ts";
import { freePort, waitForPort } from "../test/helpers/ports.ts";
import { cliArgs } from "../test/helpers/cli.ts";
import { startDelayProxy } from "./delay_proxy.ts";
import { createScenario } from "./create_bench.ts";
import { uploadScenario } from "./upload_bench.ts";
import { type Run, sameBytes, timed, watchUi } from "./measure.ts";
import { summarize, table } from "./report.ts";
import { type Scenario, SCENARIOS } from "./scenarios.ts";
import { BLOCK, makeBenchTorrent, writeFileTree, writePayload } from "./payload.ts";

const ROOT = new URL("..", import.meta.url).pathname;

/** Not a download: `create` hashing a 1 GiB file, against mktorrent and transmission-create. */
const CREATE_KEY = "h";
/** Uploads: one libtorrent leecher, and five at once, from ours, libtorrent and aria2c seeding in turn. */
const UPLOAD_KEYS: Record<string, number> = { u1: 1, u5: 5 };

type Client = "ours" | "ours-ui" | "ours-tcp" | "aria2c" | "libtorrent";

async function download(
  client: Client,
  torrent: string,
  dir: string,
  name: string,
  s?: Scenario,
  keep = false,
): Promise<Run> {
  await Deno.remove(dir, { recursive: true }).catch(() => {});
  await Deno.mkdir(dir, { recursive: true });
  const port = String(freePort());
  let cmd: string[];
  let watching: AbortController | undefined;
  let uiPort = 0;
  switch (client) {
    case "ours":
    case "ours-ui":
    case "ours-tcp":
      cmd = [Deno.execPath(), ...cliArgs([torrent, `${dir}/${name}`, "-q", "--port", port])];
      if (client === "ours-tcp") cmd.push("--no-utp");
      if (s?.maxPeers) cmd.push("--max-peers", String(s.maxPeers));
      if (client === "ours-ui") {
        uiPort = freePort();
        cmd.push("--ui", `127.0.0.1:${uiPort}`);
        watching = new AbortController();
      }
      break;
    case "aria2c":
      cmd = ["aria2c", ...aria2LeecherArgs(torrent, dir, Number(port))];
      if (s?.maxPeers) cmd.splice(1, 0, `--bt-max-peers=${s.maxPeers}`);
      break;
    case "libtorrent":
      // Against seeders that force RC4, libtorrent is set to force it too (otherwise it dials in plaintext first).
      // Against uTP seeders, libtorrent speaks uTP alone.
      cmd = [
        ...(s?.forcedRc4 ? ["env", "LT_ENCRYPTION=forced"] : []),
        ...(s?.utp ? ["env", "LT_TRANSPORT=utp"] : []),
        ...["/usr/bin/python3", `${INTEROP}lt_download.py`, torrent, dir, port],
      ];
      break;
  }
  const run = await timed(cmd, 600_000, () => watching && watchUi(uiPort, watching.signal));
  watching?.abort();
  run.ok = run.ok && await sameBytes(`${dir}/${name}`, `${dirOf(torrent)}/seed/${name}`);
  if (!run.ok) console.error(`${client} failed: ${run.output.slice(-500)}`);
  if (!keep) await Deno.remove(dir, { recursive: true }).catch(() => {});
  return run;
}

const dirOf = (p: string) => p.slice(0, p.lastIndexOf("/"));

/** Starts a scenario's swarm: payload, torrent, tracker (or relays), seeders. `stop()` ends every process. */
async function startSwarm(s: Scenario, work: string) {
  const dir = `${work}/${s.key}`;
  await Deno.mkdir(`${dir}/seed`, { recursive: true });
  await Deno.chmod(work, 0o755);
  await Deno.chmod(dir, 0o755);
  const name = s.files ? "files" : "payload.bin";
  console.error(`[${s.key}] ${s.title}: writing the payload…`);
  const block = s.files
    ? await writePayload(`${dir}/block.bin`, BLOCK)
    : await writePayload(`${dir}/seed/${name}`, s.size);
  if (s.files) await writeFileTree(`${dir}/seed/${name}`, s.files, block);
  const programs: Program[] = [];
  const proxies: { close(): void }[] = [];
  let fakeTracker: { close(): Promise<void> } | undefined;
  const trackerPort = freePort();
  const announce = `http://127.0.0.1:${trackerPort}/announce`;
  const torrent = `${dir}/bench.torrent`;
  let torrentBytes = s.files
    ? await createdTorrent(`${dir}/seed/${name}`, torrent, s.pieceLength, announce)
    : await makeBenchTorrent({ name, size: s.size, pieceLength: s.pieceLength, block, announce });
  await Deno.writeFile(torrent, torrentBytes);
  const meta = await parseMetainfo(torrentBytes);
  if (s.webSeed) {
    const port = freePort();
    programs.push(
      new Program("http seed", Deno.execPath(), [
        "run",
        "-A",
        `${ROOT}bench/http_seed.ts`,
        `${dir}/seed`,
        `${port}`,
      ]),
    );
    await Deno.writeFile(
      torrent,
      await makeBenchTorrent({ ...s, name, block, webSeeds: [`http://127.0.0.1:${port}/`] }),
    );
    await waitForPort(port, 30_000);
    return { torrent, name, dir, stop };
  }
  try {
    const first = freePort();
    const lt = new Program(
      "libtorrent seeders",
      "/usr/bin/python3",
      [
        `${INTEROP}lt_seed.py`,
        torrent,
        `${dir}/seed`,
        String(first),
        "0",
        String(s.libtorrentSeeders),
      ],
      undefined,
      { ...s.forcedRc4 && { LT_ENCRYPTION: "forced" }, ...s.utp && { LT_TRANSPORT: "both" } },
    );
    programs.push(lt);
    const rtPort = freePort();
    const session = `${dir}/rt-session`;
    await Deno.remove(session, { recursive: true }).catch(() => {});
    const noRtorrent = s.forcedRc4 || s.utp;
    const seederPorts = [...Array(s.libtorrentSeeders).keys()].map((i) => first + i)
      .concat(noRtorrent ? [] : [rtPort]);
    if (s.delayMs !== undefined) {
      // Clients learn only the relays' addresses, from a tracker of our own.
      const relayed = seederPorts.map((p) => startDelayProxy(p, s.delayMs!));
      proxies.push(...relayed);
      const t = startTracker(relayed.map((r) => ({ host: "127.0.0.1", port: r.port })));
      fakeTracker = t;
      torrentBytes = await makeBenchTorrent({
        name,
        size: s.size,
        pieceLength: s.pieceLength,
        block,
        announce: t.url,
      });
      await Deno.writeFile(torrent, torrentBytes);
    } else {
      programs.push(await startOpentracker(`${dir}/tracker`, trackerPort, [meta.infoHashHex]));
    }
    if (!noRtorrent) programs.push(await spawnRtorrent(torrent, `${dir}/seed`, session, rtPort));
    console.error(
      `[${s.key}] waiting for ${seederPorts.length} seeders${
        noRtorrent ? "" : " (rtorrent hashes the payload first)"
      }…`,
    );
    if (s.delayMs === undefined) await waitForSeeders(announce, meta.infoHash, seederPorts.length, 300_000);
    else await waitForPort(rtPort, 300_000);
    await new Promise((r) => setTimeout(r, 3000)); // let rtorrent finish its check
    return { torrent, name, dir, stop };
  } catch (e) {
    await stop();
    throw e;
  }
  async function stop() {
    for (const p of programs.reverse()) await p.stop();
    proxies.forEach((p) => p.close());
    await fakeTracker?.close();
  }
}

/** A torrent of a folder, made by our `create` (the bench's own single-file maker takes one repeated block). */
async function createdTorrent(folder: string, out: string, pieceLength: number, announce: string) {
  const args = ["create", folder, "-o", out, "--piece-size", `${pieceLength / 1024}K`];
  const made = await new Deno.Command(Deno.execPath(), {
    args: cliArgs([...args, "--tracker", announce, "--no-date", "--force", "-q"]),
    stdout: "null",
  }).output();
  if (!made.success) throw new Error(`create failed: ${new TextDecoder().decode(made.stderr)}`);
  return await Deno.readFile(out);
}

/**
 * Scenario folders whose downloads (of many files) are deleted only when the whole bench ends. On an ext4 without a
 * journal (this machine's) a new file skips every inode of its group deleted in the last minute (five while their
 * table is not yet written back), each looked up in turn: a download of 10,000 files run just after deleting as
 * many spent half its CPU there (`recently_deleted` under `ext4_create`, seen with perf), whichever client it was,
 * and so did one after the earlier scenario's deletions. A user's download does not follow such a deletion. A
 * bench run started within minutes of another one's end still meets it.
 */
const kept: string[] = [];

/** Deletes the download folders (`dl-…`) in a scenario's folder. */
async function removeDownloads(dir: string): Promise<void> {
  for await (const e of Deno.readDir(dir)) {
    if (e.name.startsWith("dl-")) await Deno.remove(`${dir}/${e.name}`, { recursive: true });
  }
}

async function scenario(s: Scenario, work: string, rounds: number, chosen: Client[], warmups: number) {
  const clients = s.utp && chosen.includes("ours") && !chosen.includes("ours-tcp")
    ? [...chosen, "ours-tcp" as const]
    : chosen;
  const { torrent, name, dir, stop } = await startSwarm(s, work);
  const line = (label: string, client: Client, run: Run) =>
    console.error(
      `[${s.key}] ${label} ${client.padEnd(10)} ${run.ok ? "ok" : "FAILED"} ${run.seconds.toFixed(2)} s, ` +
        `cpu ${run.cpu.toFixed(2)} s, rss ${run.rssMiB.toFixed(0)} MiB`,
    );
  // A download of many files gets a folder of its own, deleted when the whole bench ends (see `kept`).
  const keep = (s.files ?? 0) > 1;
  let runsStarted = 0;
  // Left by a bench that was stopped: deleted now, so the runs below may be slower (see `kept`).
  await removeDownloads(dir);
  if (keep) kept.push(dir);
  const download1 = (client: Client) =>
    download(client, torrent, `${dir}/dl-${client}${keep ? `-${++runsStarted}` : ""}`, name, s, keep);
  try {
    for (let w = 0; w < warmups; w++) {
      const client = clients[w % clients.length];
      line("warm-up", client, await download1(client));
    }
    const runs: Record<string, Run[]> = Object.fromEntries(clients.map((c) => [c, []]));
    for (let round = 1; round <= rounds; round++) {
      // Round r starts with client r: none of them always follows the same one.
      for (let k = 0; k < clients.length; k++) {
        const client = clients[(round - 1 + k) % clients.length];
        const run = await download1(client);
        runs[client].push(run);
        line(`round ${round}`, client, run);
      }
    }
    return { scenario: s, runs };
  } finally {
    await stop();
  }
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      scenario: { type: "string", default: "a" },
      rounds: { type: "string", default: "3" },
      warmup: { type: "string", default: "1" },
      clients: { type: "string", default: "ours,aria2c,libtorrent" },
      out: { type: "string", default: `${ROOT}bench/results/latest.json` },
      dir: { type: "string", default: "/tmp/actorrent-bench" },
      serve: { type: "string" },
    },
  });
  if (values.serve) {
    // Keeps one scenario's swarm up for profiling by hand, until Ctrl-C.
    const s = SCENARIOS.find((x) => x.key === values.serve);
    if (!s) throw new Error(`no scenario "${values.serve}"`);
    const swarm = await startSwarm(s, values.dir);
    console.log(`swarm of (${s.key}) up; torrent: ${swarm.torrent} (Ctrl-C to stop)`);
    await new Promise<void>((resolve) => Deno.addSignalListener("SIGINT", resolve));
    await swarm.stop();
    Deno.exit(0);
  }
  const keys = values.scenario === "all"
    ? [...SCENARIOS.map((s) => s.key), CREATE_KEY, ...Object.keys(UPLOAD_KEYS)]
    : values.scenario.split(",");
  const clients = values.clients.split(",") as Client[];
  const rounds = Number(values.rounds);
  const warmups = Number(values.warmup);
  if (!Number.isInteger(rounds) || rounds < 1 || !Number.isInteger(warmups) || warmups < 0) {
    console.error("error: --rounds takes a whole number from 1, --warmup one from 0");
    Deno.exit(2);
  }
  const summaries = [];
  for (const key of keys) {
    const s = SCENARIOS.find((x) => x.key === key);
    if (!s && key !== CREATE_KEY && !UPLOAD_KEYS[key]) {
      console.error(`error: no scenario "${key}" (a-k, p, u1, u5)`);
      Deno.exit(2);
    }
    const summary = summarize(
      s
        ? await scenario(s, values.dir, rounds, clients, warmups)
        : UPLOAD_KEYS[key]
        ? await uploadScenario(key, values.dir, rounds, UPLOAD_KEYS[key])
        : await createScenario(CREATE_KEY, values.dir, rounds),
    );
    summaries.push(summary);
    console.log(table(summary));
    // Written after every scenario, so a long run that is stopped keeps what it measured.
    await Deno.mkdir(dirOf(values.out), { recursive: true });
    const cpus = navigator.hardwareConcurrency;
    const date = new Date().toISOString();
    const results = { date, deno: Deno.version.deno, cpus, warmups, scenarios: summaries };
    await Deno.writeTextFile(values.out, JSON.stringify(results, null, 2) + "\n");
  }
  console.error(`results: ${values.out}`);
  for (const dir of kept) await removeDownloads(dir);
}
