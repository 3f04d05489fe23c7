/** Text for progress displays: pure functions of numbers. @module */

/** `1.5 MiB`, `312 KiB`, `17 B`. */
export function formatBytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let u = 0;
  while (n >= 1024 && u < units.length - 1) {
    n /= 1024;
    u++;
  }
  return u === 0 ? `${Math.round(n)} B` : `${n.toFixed(n < 10 ? 2 : n < 100 ? 1 : 0)} ${units[u]}`;
}

/** `0:07`, `12:34`, `1:02:03`; `--:--` when unknown. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return "--:--";
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
  const mm = h > 0 ? String(m).padStart(2, "0") : String(m);
  return `${h > 0 ? h + ":" : ""}${mm}:${String(r).padStart(2, "0")}`;
}

/** The numbers a progress line shows. */
export interface ProgressFigures {
  state: string;
  totalBytes: number;
  verifiedBytes: number;
  connectedPeers: number;
  peers: number;
  knownPeers: number;
  uploadedBytes: number;
}

/** One progress line; `barWidth` 0 leaves the bar out (for logs). */
export function progressLine(p: ProgressFigures, bytesPerSecond: number, barWidth: number): string {
  const fraction = p.totalBytes > 0 ? p.verifiedBytes / p.totalBytes : 0;
  const filled = Math.round(fraction * barWidth);
  const bar = barWidth > 0 ? `[${"#".repeat(filled)}${"-".repeat(barWidth - filled)}] ` : "";
  const eta = bytesPerSecond > 0
    ? formatDuration((p.totalBytes - p.verifiedBytes) / bytesPerSecond)
    : "--:--";
  const state = p.state === "active.downloading" ? "" : ` ${p.state.replace(/^active\./, "")}`;
  const up = p.uploadedBytes > 0
    ? `  up ${formatBytes(p.uploadedBytes)} (ratio ${(p.uploadedBytes / p.totalBytes).toFixed(2)})`
    : "";
  return `${bar}${(fraction * 100).toFixed(1).padStart(5)}%  ${formatBytes(p.verifiedBytes)}/${
    formatBytes(p.totalBytes)
  }  ${
    formatBytes(bytesPerSecond)
  }/s  peers ${p.connectedPeers}/${p.peers} (${p.knownPeers} known)  ETA ${eta}${up}${state}`;
}
