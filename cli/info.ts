/**
 * The `info` command: what a .torrent or a magnet link says, and what each of its trackers counts (scrape over
 * HTTP or UDP). Part of the CLI: it prints.
 *
 * @module
 */

import { type Magnet, makeMagnet } from "../src/metainfo/magnet.ts";
import type { Metainfo } from "../src/metainfo/metainfo.ts";
import { formatBytes } from "./progress_format.ts";
import { scrapeFrom } from "../src/tracker/trackers.ts";
import { supportedTracker } from "../src/tracker/types.ts";
import { UdpTrackerClient } from "../src/tracker/udp_client.ts";

/** Files listed before the rest is summed up. */
const MAX_FILES_SHOWN = 50;

/** Prints the torrent's or magnet's facts, then each tracker's counts (unless `scrape` is false). */
export async function printInfo(source: Metainfo | Magnet, scrape: boolean, timeoutMs = 5000): Promise<void> {
  const lines: string[] = [];
  if ("pieceCount" in source) {
    const m = source;
    // Padding files (BEP 47) are the torrent's alignment, not the user's data: neither listed nor counted.
    const files = m.files.filter((f) => !f.padding && !f.omitted);
    const size = files.reduce((n, f) => n + f.length, 0);
    lines.push(
      `name:       ${m.name}`,
      `infohash:   ${m.infoHashHex}`,
      `magnet:     ${makeMagnet(m.infoHashHex, m.name, m.trackers)}`,
      `size:       ${formatBytes(size)} (${size} bytes)`,
      `pieces:     ${m.pieceCount} × ${formatBytes(m.pieceLength)}`,
      `private:    ${m.private ? "yes (no peer exchange)" : "no"}`,
      `files:      ${files.length}`,
    );
    for (const f of files.slice(0, MAX_FILES_SHOWN)) {
      const link = f.symlink ? ` → ${f.symlink.join("/")}` : "";
      lines.push(
        `  ${(f.symlink ? "link" : formatBytes(f.length)).padStart(10)}  ${f.path.join("/")}${link}`,
      );
    }
    if (files.length > MAX_FILES_SHOWN) lines.push(`  … and ${files.length - MAX_FILES_SHOWN} more`);
    for (const warning of m.warnings) lines.push(`warning: ${warning}`);
    lines.push(m.webSeeds.length === 0 ? "web seeds:  none" : "web seeds:");
    for (const url of m.webSeeds) lines.push(`  ${url}`);
  } else {
    lines.push(
      `name:       ${source.name ?? "(not given; it comes with the metadata)"}`,
      `infohash:   ${source.infoHashHex}`,
      `peers:      ${source.peers.map((p) => `${p.host}:${p.port}`).join(" ") || "none given"}`,
    );
    if (source.selectOnly) {
      lines.push(`select:     files ${source.selectOnly.join(",")} (ignored: we fetch all)`);
    }
  }
  console.log(lines.join("\n"));
  const tiers = source.trackers;
  if (tiers.length === 0) return console.log("trackers:   none");
  console.log("trackers:");
  const options = { udp: new UdpTrackerClient({ retryBaseMs: timeoutMs / 3 }), timeoutMs };
  const results = await Promise.all(tiers.map((tier) =>
    Promise.all(tier.map(async (url) => {
      if (!scrape) return url;
      if (!supportedTracker(url)) return `${url}  (unsupported scheme)`;
      try {
        const c = await scrapeFrom(url, source.infoHash, options);
        return `${url}  seeders ${c.seeders}, leechers ${c.leechers}, completed ${c.completed}`;
      } catch (e) {
        return `${url}  scrape failed: ${(e as Error).message}`;
      }
    }))
  ));
  results.forEach((tier, i) => tier.forEach((line) => console.log(`  tier ${i + 1}: ${line}`)));
}
