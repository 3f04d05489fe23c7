/** What a peer connection reads from and writes to: a TCP connection, or anything shaped like one. @module */

/** A stream of bytes each way (the shape of `Deno.Conn`). */
export interface ByteStream {
  read(into: Uint8Array): Promise<number | null>;
  write(bytes: Uint8Array): Promise<number>;
  close(): void;
  /** How the bytes travel, when not over TCP. */
  readonly via?: "utp";
}

/** Writes all of `bytes` to `stream`. */
export async function writeAll(stream: ByteStream, bytes: Uint8Array): Promise<void> {
  for (let at = 0; at < bytes.length;) at += await stream.write(bytes.subarray(at));
}
