/// <reference lib="dom" />
/**
 * Watching a run: `--trace` records a real download, replay shows it as it stood at any time, and in real headless
 * Chromium the `--ui` page shows peer actors reach `downloading`, the piece map fill and the run complete.
 */

import assert from "node:assert/strict";
import puppeteer from "puppeteer-core";
import { parseMetainfo } from "../../src/metainfo/metainfo.ts";
import { serveUi } from "../../src/ui/server.ts";
import { parseTrace, type TraceRecord } from "../../src/ui/trace.ts";
import { makeTorrent, payload } from "../helpers/make_torrent.ts";
import { startSeeder } from "../helpers/scripted_seeder.ts";
import { closeAll, unusedPort } from "../helpers/ports.ts";
import { cliCommand } from "../helpers/cli.ts";

const CHROMIUM = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].find((p) => {
  try {
    return Deno.statSync(p).isFile;
  } catch {
    return false;
  }
});

async function swarm(blockDelayMs: number) {
  const pieceLength = 32 * 1024;
  const { torrent, data } = await makeTorrent({
    name: "ui.bin",
    files: [{ path: ["ui.bin"], data: payload(64 * pieceLength - 1000, 21) }],
    pieceLength,
  });
  const meta = await parseMetainfo(torrent);
  const seeders = [1, 2].map(() => startSeeder({ infoHash: meta.infoHash, data, pieceLength, blockDelayMs }));
  const dir = await Deno.makeTempDir();
  await Deno.writeFile(`${dir}/ui.torrent`, torrent);
  return {
    dir,
    data,
    seeders,
    args: [
      `${dir}/ui.torrent`,
      `${dir}/ui.bin`,
      ...seeders.flatMap((s) => ["--peer", `127.0.0.1:${s.port}`]),
    ],
    /** Our CLI downloading from this swarm, quietly, with `extra` options. */
    cli(...extra: string[]): Deno.Command {
      return cliCommand([...this.args, ...extra, "-q"]);
    },
    async close() {
      await Promise.all(seeders.map((s) => s.close()));
      await Deno.remove(dir, { recursive: true });
    },
  };
}

const transitionsOf = (records: TraceRecord[], id: string) =>
  records.filter((r): r is Extract<TraceRecord, { kind: "transition" }> =>
    r.kind === "transition" && r.id === id
  );

Deno.test("--trace records every actor's transitions; replay shows the run as it stood at any time", async () => {
  const s = await swarm(5);
  try {
    const out = await s.cli("--trace", `${s.dir}/run.jsonl`, "--port", String(unusedPort())).output();
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    const records = parseTrace(await Deno.readTextFile(`${s.dir}/run.jsonl`));
    assert(records.some((r) => r.kind === "torrent" && r.name === "ui.bin" && r.pieceCount === 64));
    assert.deepEqual(transitionsOf(records, "torrent").map((r) => r.to), [
      "checking",
      "active.downloading",
      "leaving",
      "done",
    ]);
    assert(records.some((r) => r.kind === "actor" && r.id === "coordinator" && r.parent === "torrent"));
    assert(records.some((r) => r.kind === "actor" && r.id === "swarm" && r.parent === "torrent"));
    for (const seeder of s.seeders) {
      const id = `127.0.0.1:${seeder.port}`;
      assert(
        records.some((r) =>
          r.kind === "actor" && r.id === id && r.machine === "peer" && r.parent === "swarm" &&
          r.state === "connecting"
        ),
      );
      assert.deepEqual(
        transitionsOf(records, id).slice(0, 3).map((r) => `${r.from} -(${r.event})-> ${r.to}`),
        [
          "connecting -(link.connected)-> handshaking",
          "handshaking -(link.handshaken)-> connected.choked",
          "connected.choked -(link.unchoked)-> connected.downloading",
        ],
      );
    }
    const last = records.filter((r) => r.kind === "sample").at(-1);
    assert(
      last?.kind === "sample" && last.sample.pieces === "v".repeat(64),
      "the last sample has every piece",
    );

    // Replay: the view at the moment a peer started downloading, and at the end.
    const server = await serveUi({ hostname: "127.0.0.1", port: 0, charts: [], source: { records } });
    try {
      const range = await (await fetch(server.url + "api/range")).json();
      assert.deepEqual(range, { t0: records[0].t, t1: records.at(-1)!.t });
      const id = `127.0.0.1:${s.seeders[0].port}`;
      const started = transitionsOf(records, id).find((r) => r.to === "connected.downloading")!;
      const mid = await (await fetch(`${server.url}api/view?t=${started.t}`)).json();
      assert.equal(mid.actors.find((a: { id: string }) => a.id === id)?.state, "connected.downloading");
      // One actor up close, as it stood then: its state and its transitions so far.
      const focus = await (await fetch(`${server.url}api/actor?id=${id}&t=${started.t}`)).json();
      assert.equal(focus.actor.state, "connected.downloading");
      assert.deepEqual(
        focus.transitions.map((r: { to: string }) => r.to),
        ["handshaking", "connected.choked", "connected.downloading"],
      );
      assert.equal((await fetch(`${server.url}api/actor?id=nobody&t=${started.t}`)).status, 404);
      const end = await (await fetch(`${server.url}api/view?t=${range.t1}`)).json();
      assert.equal(end.actors.find((a: { id: string }) => a.id === "torrent")?.state, "done");
      const page = await (await fetch(server.url)).text();
      assert.match(page, /<input id="time" type="range"/);
      assert(!/(src|href)="https?:/.test(page), "the page loads nothing from elsewhere");
      // fetch() will not send another Host header: speak HTTP by hand, as a rebinding page's browser would.
      const conn = await Deno.connect({ hostname: "127.0.0.1", port: Number(new URL(server.url).port) });
      await conn.write(
        new TextEncoder().encode("GET / HTTP/1.1\r\nHost: attacker.example\r\nConnection: close\r\n\r\n"),
      );
      const answer = new TextDecoder().decode(await new Response(conn.readable).arrayBuffer());
      assert.match(answer, /^HTTP\/1.1 403/);
    } finally {
      await server.close();
    }
  } finally {
    await s.close();
  }
});

Deno.test({
  name: "--ui in headless Chromium: peer actors reach downloading, the piece map fills, the run completes",
  ignore: CHROMIUM === undefined,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const s = await swarm(70); // about 4 s of downloading, so the page sees it happen
    const uiPort = unusedPort(), port = unusedPort();
    const child = s.cli("--ui", `127.0.0.1:${uiPort}`, "--port", String(port)).spawn();
    const silent: Deno.Conn[] = [];
    const browser = await puppeteer.launch({
      executablePath: CHROMIUM,
      args: ["--no-sandbox", "--headless=new"],
    });
    try {
      const page = await browser.newPage();
      await page.setViewport({ width: 1400, height: 1000 });
      for (let i = 0;; i++) {
        try {
          await page.goto(`http://127.0.0.1:${uiPort}/`);
          break;
        } catch (e) {
          if (i > 100) throw e;
          await new Promise((r) => setTimeout(r, 100));
        }
      }
      await page.waitForSelector('tr.peer[data-state="connected.downloading"]', { timeout: 20_000 });
      await page.waitForSelector(
        'svg[data-machine="peer"] g.state.active[data-state="connected.downloading"]',
      );
      // 70 connections that never speak: the client holds 64 and closes the rest, and the page counts them.
      for (let i = 0; i < 70; i++) silent.push(await Deno.connect({ hostname: "127.0.0.1", port }));
      await page.waitForFunction(() =>
        (document.getElementById("peer-count")?.textContent ?? "").includes("6 silent connections closed")
      );
      const rows = await page.$$eval("tr.peer", (trs) => trs.map((tr) => (tr as HTMLElement).dataset.peer));
      for (const seeder of s.seeders) {
        assert(rows.includes(`127.0.0.1:${seeder.port}`), `peer row of ${seeder.port}`);
      }
      // A click on a peer opens its own chart with its own state lit, and its transitions with their events.
      // The page redraws its lists four times a second: find and click in one turn of the page's own loop.
      const click = (selector: string) =>
        page.waitForFunction(
          (sel: string) => {
            const el = document.querySelector(sel) as HTMLElement | null;
            el?.click();
            return el !== null;
          },
          {},
          selector,
        );
      await click('tr.peer[data-state="connected.downloading"]');
      await page.waitForSelector(
        '#focus:not([hidden]) svg[data-machine="peer"] g.state.mine[data-state="connected.downloading"]',
      );
      await page.waitForFunction(() =>
        (document.getElementById("focus-transitions")?.textContent ?? "").includes(
          "handshaking → connected.choked  (link.handshaken)",
        )
      );
      const lit = await page.$$eval(
        "#focus g.state.mine",
        (gs) => gs.map((g) => (g as SVGGElement).dataset.state),
      );
      assert.deepEqual(lit, ["connected.downloading"], "only the peer's own state is lit");
      await page.waitForFunction(() =>
        /SS0001 · tcp plain · down .* · fetching piece/.test(
          document.getElementById("focus-now")?.textContent ?? "",
        )
      );
      const shots = await Deno.makeTempDir({ prefix: "ui-charts-" });
      for (const chart of await page.$$(".charts svg.chart")) {
        const machine = await chart.evaluate((el) => (el as SVGSVGElement).dataset.machine);
        await chart.screenshot({ path: `${shots}/${machine}.png` });
      }
      await (await page.$("#focus"))!.screenshot({ path: `${shots}/focus-peer.png` });
      // Any actor that moved opens from the list of transitions: here the supervisor.
      await click('#transitions [data-actor="torrent"]');
      await page.waitForSelector('#focus svg[data-machine="torrent"] g.state.mine[data-state^="active."]');
      console.log(`chart screenshots: ${shots}`);
      await page.waitForFunction(() => Number(document.getElementById("pieces")?.dataset.verified ?? 0) > 0);
      await page.waitForFunction(() => document.getElementById("torrent-state")?.textContent === "done", {
        timeout: 30_000,
      });
      assert.equal(await page.$eval("#pieces", (c) => (c as HTMLElement).dataset.verified), "64");
      const shot = `${await Deno.makeTempDir({ prefix: "ui-shot-" })}/live-view.png`;
      await page.screenshot({ path: shot, fullPage: true });
      assert((await Deno.stat(shot)).size > 10_000);
      console.log(`screenshot: ${shot}`);
      const status = await child.status;
      assert.equal(status.code, 0);
      assert.deepEqual(await Deno.readFile(`${s.dir}/ui.bin`), s.data);
    } finally {
      closeAll(silent);
      await browser.close();
      try {
        child.kill("SIGKILL");
      } catch { /* exited */ }
      await child.output().catch(() => {});
      await s.close();
    }
  },
});

Deno.test("--inspect-ws sends the standard inspection stream to a Stately WebSocket inspector", async () => {
  const s = await swarm(0);
  const messages: { type?: string; sessionId?: string; event?: { type?: string } }[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    const { socket, response } = Deno.upgradeWebSocket(req);
    socket.onmessage = (e) => messages.push(JSON.parse(String(e.data)));
    return response;
  });
  try {
    const out = await s.cli("--inspect-ws", `ws://127.0.0.1:${server.addr.port}`).output();
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    assert(messages.some((m) => m.type === "@xstate.actor"), "actors announced");
    assert(messages.some((m) => m.type === "@xstate.snapshot"), "snapshots sent");
    assert(
      messages.some((m) => m.type === "@xstate.event" && m.event?.type === "link.unchoked"),
      "peer events sent",
    );
  } finally {
    await server.shutdown();
    await s.close();
  }
});
