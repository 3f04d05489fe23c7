/** Turning a torrent's path components into safe file names on the platform at hand. @module */

const RESERVED = /^(con|prn|aux|nul|com[1-9]|lpt[1-9])(\..*)?$/i;

/**
 * A component Windows can hold as an ordinary file name: characters it forbids become "_", trailing dots and
 * spaces (which Windows strips, merging names) become "_", and reserved device names (CON, NUL, COM1, LPT1, with
 * any extension) get a "_" prefix. Other platforms take components as they are (metainfo.ts already refuses
 * separators, "..", "." and NUL).
 */
export function windowsSafe(component: string): string {
  let s = Array.from(component, (ch) => ch.charCodeAt(0) < 32 || '<>:"|?*'.includes(ch) ? "_" : ch).join("");
  s = s.replace(/[. ]+$/, (tail) => "_".repeat(tail.length));
  return RESERVED.test(s) ? `_${s}` : s;
}

/** The component as this platform should name it. */
export function platformSafe(component: string, os: string = Deno.build.os): string {
  return os === "windows" ? windowsSafe(component) : component;
}
