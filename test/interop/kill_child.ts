/**
 * The client as the kill test runs it: a download through the library that appends the index of every piece it
 * verifies to a log, with a synchronous write per piece so the log survives `kill -9`. A piece is verified only
 * after it is written, so each logged piece is on disk.
 *
 * Usage: deno run -A kill_child.ts <file.torrent> <out> <log> <port>
 */

import { startDownload } from "../../actors/client.ts";
import { parseMetainfo } from "../../src/metainfo/metainfo.ts";

const [torrent, out, logPath, port] = Deno.args;
const log = Deno.openSync(logPath, { append: true, create: true });
const encoder = new TextEncoder();
const meta = await parseMetainfo(await Deno.readFile(torrent));
const session = startDownload(meta, {
  out,
  port: Number(port),
  inspect(e) {
    if (e.type === "@xstate.event" && e.event.type === "pieces.verified") {
      const { indices } = e.event as unknown as { indices: number[] };
      log.writeSync(encoder.encode(indices.map((i) => `${i}\n`).join("")));
    }
  },
});
const result = await session.done;
Deno.exit(result.ok ? 0 : 1);
