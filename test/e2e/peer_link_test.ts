import assert from "node:assert/strict";
import { PeerLink } from "../../src/peer/link.ts";
import type { LinkEvent } from "../../src/peer/link_events.ts";
import { FrameReader } from "../../src/wire/frame_reader.ts";
import { decodeMessage, encodeHandshake, encodeMessage, HANDSHAKE_LENGTH } from "../../src/wire/wire.ts";
import { concat } from "../../src/common/bytes.ts";

const PIECE = 1024;
const infoHash = new Uint8Array(20).fill(7);

/** Reads from `conn` until `reader` yields `n` frames (or the handshake, when `n` is 0). */
async function readFrames(conn: Deno.TcpConn, reader: FrameReader, n: number) {
  const frames = [];
  while (true) {
    if (n === 0 && reader.take(HANDSHAKE_LENGTH)) return frames;
    let f;
    while (n > 0 && frames.length < n && (f = reader.next()) !== null) frames.push(decodeMessage(f.slice()));
    if (n > 0 && frames.length === n) return frames;
    const got = await conn.read(reader.space());
    if (got === null) throw new Error("closed");
    reader.filled(got);
  }
}

Deno.test("a link reports the pieces one read completed in one event, before the choke that followed them", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const events: LinkEvent[] = [];
  const link = new PeerLink({
    host: "127.0.0.1",
    port: listener.addr.port,
    infoHash,
    peerId: new Uint8Array(20).fill(1),
    pieceLength: PIECE,
    pieceCount: 4,
    totalLength: 4 * PIECE,
  }, (e) => events.push(e));
  link.command({ type: "fetch", indices: [0, 1, 2, 3] });
  const running = link.run();
  const conn = await listener.accept();
  try {
    const reader = new FrameReader(1 << 16);
    await readFrames(conn, reader, 0);
    await conn.write(encodeHandshake(infoHash, new Uint8Array(20).fill(2)));
    await conn.write(concat([
      encodeMessage({ type: "bitfield", bits: new Uint8Array([0xf0]) }),
      encodeMessage({ type: "unchoke" }),
    ]));
    const requests = await readFrames(conn, reader, 4);
    assert.deepEqual(requests.map((r) => r.type === "request" && [r.index, r.begin, r.length]), [
      [0, 0, PIECE],
      [1, 0, PIECE],
      [2, 0, PIECE],
      [3, 0, PIECE],
    ]);
    // Four whole pieces and a choke in one write: one read on loopback.
    await conn.write(concat([
      ...[0, 1, 2, 3].map((index) =>
        encodeMessage({ type: "piece", index, begin: 0, block: new Uint8Array(PIECE).fill(index + 1) })
      ),
      encodeMessage({ type: "choke" }),
    ]));
    const deadline = Date.now() + 5000;
    while (!events.some((e) => e.type === "link.choked") && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 10));
    }
    const types = events.map((e) => e.type);
    assert.deepEqual(types.slice(types.indexOf("link.unchoked")), [
      "link.unchoked",
      "link.pieces",
      "link.choked",
    ]);
    const batch = events.find((e) => e.type === "link.pieces");
    assert(batch?.type === "link.pieces");
    assert.deepEqual(batch.pieces.map((p) => "data" in p ? [p.index, p.data.length, p.data[0]] : []), [
      [0, PIECE, 1],
      [1, PIECE, 2],
      [2, PIECE, 3],
      [3, PIECE, 4],
    ]);
  } finally {
    link.close();
    conn.close();
    listener.close();
    await running;
  }
});
