/**
 * The `files` list of a multi-file torrent (BEP 3, with BEP 47's attributes), read straight from the torrent's
 * bytes: each entry is taken apart where it stands, so a torrent of 10,000 files builds its 10,000 `FileEntry`
 * records and nothing else that outlives one entry (no decoded dictionaries, lists and views of the whole list,
 * which V8 kept long enough to count against its young generation's size). Every name is checked so that no path
 * leaves the torrent's folder.
 *
 * @module
 */

import { BencodeCursor } from "../common/bencode_strict.ts";

/** One file of a torrent, laid end to end with the others in piece space. */
export interface FileEntry {
  /** Path components below the torrent's folder (for a single-file torrent: just the name). */
  path: string[];
  /** Size in bytes. */
  length: number;
  /** Offset of the file's first byte in the torrent's concatenated data. */
  offset: number;
  /**
   * A padding file (BEP 47, `attr` contains `p`): zeros that align the next file to a piece. It is never created
   * on disk; its bytes read as zeros.
   */
  padding?: boolean;
  /** BEP 47 `attr` contains `x`: the file is made executable where the platform has the bit. */
  executable?: boolean;
  /**
   * BEP 47 `attr` contains `l`: a symbolic link to this path below the torrent's folder, created instead of a
   * file. Its target never leaves the folder (each component is checked like a file's).
   */
  symlink?: string[];
  /** A BEP 47 link whose target is unusable (outside the torrent's folder): nothing is created for it. */
  omitted?: boolean;
}

/** Throws the one-line error every unreadable torrent gets. */
export function bad(message: string): never {
  throw new SyntaxError(`Cannot parse torrent: ${message}`);
}

/**
 * Checks one path component; throws for anything that could escape the output folder or is not a name. `where`
 * names the field, made only when something is wrong (a string per component was garbage 10,000 times over).
 */
export function component(s: string, where: () => string): string {
  if (s.length === 0) bad(`"${where()}" has an empty path component`);
  if (s === "." || s === "..") bad(`"${where()}" has a "${s}" path component`);
  if (s.includes("/") || s.includes("\\")) bad(`"${where()}" component "${s}" contains a path separator`);
  if (s.includes("\0")) bad(`"${where()}" component contains a NUL byte`);
  return s;
}

/** A file's `length`: a non-negative integer JavaScript holds exactly. */
function lengthAt(c: BencodeCursor, i: number): number {
  if (c.kind() !== "i") bad(`"info.files[${i}].length" is not an integer`);
  const n = c.integer();
  if (!Number.isSafeInteger(n)) bad(`"info.files[${i}].length" ${n} is out of range`);
  if (n < 0) bad(`"info.files[${i}].length" is negative (${n})`);
  return n;
}

/** A list of byte strings as text, each checked by `component` (`field` names it in errors). */
function pathAt(c: BencodeCursor, i: number, field: string): string[] {
  const where = () => `info.files[${i}].${field}`;
  if (c.kind() !== "l") bad(`"${where()}" is not a list`);
  c.open();
  let n = 0;
  while (c.more()) {
    if (c.kind() !== "s") bad(`"${where()}[${n}]" is not a byte string`);
    scratch[n++] = component(c.text(), where);
  }
  if (n === 0) bad(`"${where()}" is empty`);
  // An array of exactly its size: one grown by push keeps room for 16 more, a megabyte over 10,000 files.
  const parts = scratch.slice(0, n);
  scratch.fill("", 0, n);
  return parts;
}

/** Where `pathAt` gathers a path's components. */
const scratch: string[] = [];

/**
 * Reads the `files` list at `pos` in `buf` (checked by `scanValue`): each entry's path, length, offset in the
 * torrent's data and attributes. A symbolic link whose target is unusable is left out with a line in `warnings`.
 */
export function parseFileList(buf: Uint8Array, pos: number, warnings: string[]): FileEntry[] {
  const c = new BencodeCursor(buf, pos);
  if (c.kind() !== "l") bad(`"info.files" is not a list`);
  c.open();
  const files: FileEntry[] = [];
  let offset = 0;
  for (let i = 0; c.more(); i++) {
    if (c.kind() !== "d") bad(`"info.files[${i}]" is not a dictionary`);
    c.open();
    let length = -1, path: string[] | undefined, attr = "", link: string[] | string | undefined;
    while (c.more()) {
      const key = c.key();
      if (key === "length") length = lengthAt(c, i);
      else if (key === "path") path = pathAt(c, i, "path");
      else if (key === "attr" && c.kind() === "s") attr = c.text();
      else if (key === "symlink path") link = linkAt(c, i);
      else c.skip();
    }
    if (length < 0) bad(`missing "info.files[${i}].length"`);
    if (!path) bad(`missing "info.files[${i}].path"`);
    const entry: FileEntry = { path, length, offset };
    if (attr.includes("p")) entry.padding = true;
    if (attr.includes("x")) entry.executable = true;
    if (attr.includes("l") && length === 0) {
      const named = `"${path.join("/")}"`;
      if (typeof link === "string") {
        warnings.push(
          `left out the symbolic link ${named}: its target "${link}" is not inside the torrent's folder`,
        );
        entry.omitted = true;
      } else if (!link) {
        warnings.push(`left out the symbolic link ${named}: it has no usable "symlink path"`);
        entry.omitted = true;
      } else {
        entry.symlink = link;
      }
    }
    files.push(entry);
    offset += length;
  }
  if (files.length === 0) bad(`"info.files" is empty`);
  checkCollisions(files);
  return files;
}

/**
 * A BEP 47 link's target: its components, or as one string when it would leave the torrent's folder, or
 * undefined when it is not a non-empty list of byte strings.
 */
function linkAt(c: BencodeCursor, i: number): string[] | string | undefined {
  const start = c.pos;
  try {
    return pathAt(c, i, "symlink path");
  } catch {
    c.pos = start;
    c.skip();
    const raw = new BencodeCursor(c.buf, start).value();
    if (!Array.isArray(raw) || raw.length === 0 || !raw.every((p) => p instanceof Uint8Array)) {
      return undefined;
    }
    const decoder = new TextDecoder();
    return raw.map((p) => decoder.decode(p)).join("/");
  }
}

/**
 * Refuses two files at one path, a file that is also another file's folder, and paths that differ only in case
 * (on a case-insensitive disk they would be one file, and two files' pieces would overwrite each other).
 */
function checkCollisions(files: FileEntry[]): void {
  // Each path and folder once, lowercased, with the file it came from: the names are made again for a message.
  const seen = new Map<string, number>();
  const folders = new Set<string>();
  for (let i = 0; i < files.length; i++) {
    const path = files[i].path;
    const key = path.length === 1 ? path[0].toLowerCase() : path.join("/").toLowerCase();
    const other = seen.get(key);
    if (other !== undefined) {
      const a = files[other].path.join("/"), b = path.join("/");
      bad(a === b ? `file "${b}" appears twice` : `files "${a}" and "${b}" differ only in case`);
    }
    seen.set(key, i);
    // A folder already seen brings its own folders with it.
    for (let end = key.lastIndexOf("/"); end > 0; end = key.lastIndexOf("/", end - 1)) {
      const folder = key.slice(0, end);
      if (folders.has(folder)) break;
      folders.add(folder);
    }
  }
  for (const folder of folders) {
    const file = seen.get(folder);
    if (file !== undefined) bad(`"${files[file].path.join("/")}" is both a file and a folder`);
  }
}
