/**
 * DHT interop with libtorrent (python3-libtorrent 2.0), every node on 127.0.0.1: a libtorrent session that joins
 * nothing is the router. Our client downloads a magnet link with nothing but its infohash from a libtorrent seeder
 * found only through the DHT, and libtorrent downloads one from our `seed`, finding us only through the DHT. The
 * torrents are public (DHT needs that) and their only tracker is a port where nothing listens.
 */

import assert from "node:assert/strict";
import { cliArgs } from "../helpers/cli.ts";
import { freePort, waitForPort } from "../helpers/ports.ts";
import { prepare, SHAPES } from "./shapes.ts";
import { HERE, installed, Program, runCli } from "./swarm.ts";

const ready = installed("mktorrent") &&
  new Deno.Command("/usr/bin/python3", { args: ["-c", "import libtorrent"] }).outputSync().success;

async function libtorrentDht(name: string, args: string[], port: number): Promise<Program> {
  const p = new Program(name, "/usr/bin/python3", [`${HERE}lt_dht.py`, ...args]);
  p.port = port;
  await waitForPort(port);
  return p;
}

async function setUp(prefix: string) {
  const work = await Deno.makeTempDir({ prefix });
  await Deno.chmod(work, 0o755);
  const shape = SHAPES.find((s) => s.name === "s256k.bin")!;
  const deadTracker = `http://127.0.0.1:${freePort()}/announce`;
  const prepared = await prepare(shape, `${work}/seed`, work, deadTracker, false);
  const routerPort = freePort();
  const router = await libtorrentDht("lt-router", ["router", String(routerPort)], routerPort);
  return { work, shape, ...prepared, router, bootstrap: `127.0.0.1:${routerPort}` };
}

Deno.test({
  name:
    "DHT: our client fetches a bare magnet link from a libtorrent seeder found only through libtorrent's DHT",
  ignore: !ready,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const s = await setUp("dht-lt-seed-");
    const seedPort = freePort();
    const seeder = await libtorrentDht(
      "lt-seed",
      ["seed", s.torrentPath, `${s.work}/seed`, String(seedPort), s.bootstrap],
      seedPort,
    );
    try {
      const started = Date.now();
      const out = `${s.work}/ours.bin`;
      const r = await runCli([
        `magnet:?xt=urn:btih:${s.meta.infoHashHex}`,
        out,
        "--dht-bootstrap",
        s.bootstrap,
      ]);
      assert.equal(r.code, 0, r.text);
      assert.deepEqual(await Deno.readFile(out), s.files[0].data);
      console.log(
        `bare magnet from libtorrent through the DHT: ${((Date.now() - started) / 1000).toFixed(1)} s`,
      );
    } finally {
      await seeder.stop();
      await s.router.stop();
      await Deno.remove(s.work, { recursive: true });
    }
  },
});

Deno.test({
  name: "DHT: libtorrent fetches a bare magnet link from our seed, finding us only through the DHT",
  ignore: !ready,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const s = await setUp("dht-our-seed-");
    const ourPort = freePort();
    const ours = new Program(
      "ours",
      Deno.execPath(),
      cliArgs([
        "seed",
        s.torrentPath,
        `${s.work}/seed/${s.shape.name}`,
        "--port",
        String(ourPort),
        "--dht-bootstrap",
        s.bootstrap,
        "-q",
      ]),
    );
    let leecher: Program | undefined;
    try {
      await waitForPort(ourPort);
      const getPort = freePort();
      leecher = new Program("lt-get", "/usr/bin/python3", [
        `${HERE}lt_dht.py`,
        "get",
        s.meta.infoHashHex,
        `${s.work}/got`,
        String(getPort),
        s.bootstrap,
      ]);
      const timer = setTimeout(() => leecher?.stop(), 150_000);
      const status = await leecher.child.status;
      clearTimeout(timer);
      const said = await leecher.output;
      assert.equal(status.code, 0, said);
      assert.deepEqual(await Deno.readFile(`${s.work}/got/${s.shape.name}`), s.files[0].data);
    } finally {
      await leecher?.stop();
      await ours.stop();
      await s.router.stop();
      await Deno.remove(s.work, { recursive: true });
    }
  },
});
