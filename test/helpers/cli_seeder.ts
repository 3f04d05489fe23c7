/**
 * Our `seed` as a process of its own (so its memory and CPU are its own, read from /proc by its PID), and an
 * honest leecher of ours, in the test's process, to download from it.
 */

import { startDownload } from "../../actors/client.ts";
import type { Metainfo } from "../../src/metainfo/metainfo.ts";
import { MemoryStorage } from "../../src/storage/storage.ts";
import { cliCommand } from "./cli.ts";
import { freePort, waitForHandshake } from "./ports.ts";

/** A number from `/proc/PID/status` (in KiB), as MiB. */
async function statusMiB(pid: number, field: "VmHWM" | "VmRSS"): Promise<number> {
  const status = await Deno.readTextFile(`/proc/${pid}/status`);
  return Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)![1]) / 1024;
}

/** CPU seconds (user and system) a process has used, from `/proc/PID/stat`. */
export async function cpuSeconds(pid: number): Promise<number> {
  const fields = (await Deno.readTextFile(`/proc/${pid}/stat`)).split(") ")[1].split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** Writes the torrent and its data into `dir`, starts `seed` on them and resolves once it answers a handshake. */
export async function startCliSeeder(
  dir: string,
  torrent: Uint8Array,
  data: Uint8Array,
  infoHash: Uint8Array,
  extra: string[] = [],
) {
  await Deno.writeFile(`${dir}/t.torrent`, torrent);
  await Deno.writeFile(`${dir}/t.bin`, data);
  const port = freePort();
  const child = cliCommand(
    ["seed", `${dir}/t.torrent`, `${dir}/t.bin`, "--port", `${port}`, "-q", ...extra],
    { stdout: "null", stderr: "piped" },
  ).spawn();
  await waitForHandshake(port, infoHash, 10_000);
  return {
    port,
    pid: child.pid,
    /** Peak resident memory so far. */
    peakMiB: () => statusMiB(child.pid, "VmHWM"),
    /** Resident memory now. */
    rssMiB: () => statusMiB(child.pid, "VmRSS"),
    /** Stops it by its PID and waits for it. */
    async stop() {
      try {
        Deno.kill(child.pid, "SIGINT");
      } catch { /* gone */ }
      await child.output();
    },
  };
}

/** Downloads `meta` into memory from the peer at 127.0.0.1:`port`, giving up when none is connected for 5 s. */
export async function downloadFrom(meta: Metainfo, port: number) {
  const storage = new MemoryStorage(meta.totalLength);
  const result = await startDownload(meta, {
    storage: () => Promise.resolve({ storage, existed: false }),
    peers: [{ host: "127.0.0.1", port }],
    listen: false,
    noPeersTimeoutMs: 5000,
  }).done;
  return { result, bytes: storage.data };
}
