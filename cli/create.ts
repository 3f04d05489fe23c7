/**
 * `create PATH -o FILE.torrent`: makes a torrent of a file or a folder, with a progress line while it hashes.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { autoPieceLength, collectFiles, encodeTorrent, hashPieces } from "../src/metainfo/create.ts";
import { parseMetainfo } from "../src/metainfo/metainfo.ts";
import { formatBytes } from "./progress_format.ts";
import { UsageError } from "./usage_error.ts";

export const CREATE_USAGE = `Usage: deno run -A mod.ts create <path> -o <file.torrent> [options]

Makes a torrent of a file, or of a folder and every file below it (sorted by path, empty files included;
hidden files and folders, whose names start with ".", are left out unless --include-hidden; sockets, pipes and
devices always; symbolic links are followed).

Options:
  -o, --output <file>        where to write the .torrent (required; an existing file only with --force)
  -t, --tracker <url[,url…]> a tracker tier (repeatable; commas put several trackers in one tier, BEP 12)
  -w, --web-seed <url>       a web seed (BEP 19 url-list; repeatable)
      --piece-size <bytes>   piece size: a power of two from 16K to 64M, like 262144, 256K or 4M
                             (default: from 16 KiB to 16 MiB, aiming at 1,000 to 2,000 pieces)
      --private              private torrent (BEP 27): peers only from its trackers
      --comment <text>       a comment
      --source <text>        info.source, a tracker's tag (changes the infohash)
      --no-date              leave out the creation date, so the same files always make the same file
      --include-hidden       include hidden files and folders
      --force                overwrite the output
  -q, --quiet                print only errors
`;

const UNITS: Record<string, number> = { "": 1, k: 1024, m: 1024 ** 2 };

/** `--piece-size`: bytes, or a number with K or M (KiB, MiB); a power of two from 16 KiB to 64 MiB. */
export function parsePieceSize(text: string): number {
  const m = /^(\d+)\s*([km]?)(?:i?b)?$/i.exec(text.trim());
  const n = m ? Number(m[1]) * UNITS[m[2].toLowerCase()] : NaN;
  if (!(n >= 16384 && n <= 64 * 1024 ** 2 && (n & (n - 1)) === 0)) {
    throw new UsageError(`--piece-size "${text}" is not a power of two from 16K to 64M`);
  }
  return n;
}

function urlOf(text: string, flag: string): string {
  try {
    const url = new URL(text);
    if (
      !["http:", "https:", "udp:"].includes(url.protocol) ||
      (flag === "--web-seed" && url.protocol === "udp:")
    ) {
      throw new Error();
    }
  } catch {
    throw new UsageError(
      `${flag} "${text}" is not an ${flag === "--web-seed" ? "http(s)" : "http(s) or udp"} URL`,
    );
  }
  return text;
}

/** Runs `create` with the arguments after the word; returns the exit code (throws for the caller to print). */
export async function createCommand(args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      options: {
        output: { type: "string", short: "o" },
        tracker: { type: "string", short: "t", multiple: true },
        "web-seed": { type: "string", short: "w", multiple: true },
        "piece-size": { type: "string" },
        private: { type: "boolean" },
        comment: { type: "string" },
        source: { type: "string" },
        "no-date": { type: "boolean" },
        "include-hidden": { type: "boolean" },
        force: { type: "boolean" },
        quiet: { type: "boolean", short: "q" },
        help: { type: "boolean", short: "h" },
      },
    });
  } catch (e) {
    throw new UsageError((e as Error).message.split("\n")[0]);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    console.log(CREATE_USAGE);
    return 0;
  }
  if (positionals.length !== 1) throw new UsageError("expected create <path> -o <file.torrent>");
  const output = values.output;
  if (!output) throw new UsageError("create needs -o <file.torrent>");
  const trackers = (values.tracker ?? []).map((t) => t.split(",").map((u) => urlOf(u.trim(), "--tracker")));
  const webSeeds = (values["web-seed"] ?? []).map((u) => urlOf(u, "--web-seed"));
  const fixedPiece = values["piece-size"] === undefined ? undefined : parsePieceSize(values["piece-size"]);
  if (!values.force && await Deno.stat(output).then(() => true, () => false)) {
    throw new Error(`${output} exists (--force overwrites it)`);
  }

  const collected = await collectFiles(positionals[0], { includeHidden: values["include-hidden"] });
  const total = collected.files.reduce((sum, f) => sum + f.length, 0);
  if (total === 0) throw new Error(`${positionals[0]} holds no data: every file is empty`);
  const pieceLength = fixedPiece ?? autoPieceLength(total);
  const quiet = values.quiet ?? false;
  const tty = Deno.stderr.isTerminal();
  const started = performance.now();
  let shown = 0;
  const pieces = await hashPieces(collected.files, pieceLength, ({ done }) => {
    const now = performance.now();
    if (quiet || (now - shown < 250 && done < total)) return;
    shown = now;
    const rate = done / Math.max(0.001, (now - started) / 1000);
    const line =
      `hashing ${Math.floor((done / total) * 100)}% ${formatBytes(done)} of ${formatBytes(total)}, ` +
      `${formatBytes(rate)}/s`;
    if (tty) Deno.stderr.writeSync(new TextEncoder().encode(`\r\x1b[2K${line}`));
  });
  const seconds = (performance.now() - started) / 1000;
  if (tty && !quiet) Deno.stderr.writeSync(new TextEncoder().encode("\r\x1b[2K"));
  const torrent = encodeTorrent(collected, pieceLength, pieces, {
    trackers,
    webSeeds,
    private: values.private,
    comment: values.comment,
    source: values.source,
    creationDate: values["no-date"] ? undefined : Math.floor(Date.now() / 1000),
    createdBy: "actorrent",
  });
  const meta = await parseMetainfo(torrent); // what we wrote must be what a client reads
  try {
    await Deno.writeFile(output, torrent, { createNew: !values.force });
  } catch (e) {
    throw new Error(`cannot write ${output}: ${(e as Error).message}`);
  }
  if (!quiet) {
    const { hidden, special, loops } = collected.skipped;
    const left = [
      hidden && `${hidden} hidden (--include-hidden takes them)`,
      special && `${special} special`,
      loops && `${loops} link loops`,
    ].filter(Boolean);
    console.error(
      `${output}: ${collected.files.length} file${collected.files.length === 1 ? "" : "s"}, ` +
        `${formatBytes(total)} in ${meta.pieceCount} pieces of ${formatBytes(pieceLength)}, hashed in ` +
        `${seconds.toFixed(1)} s (${formatBytes(total / Math.max(seconds, 0.001))}/s)` +
        `${left.length ? `; left out: ${left.join(", ")}` : ""}`,
    );
    console.log(meta.infoHashHex);
  }
  return 0;
}
