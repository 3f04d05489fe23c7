/** PeerConnection over an in-memory pipe: no socket, both ends in the test. */

import assert from "node:assert/strict";
import { type ByteStream, PeerConnection } from "../../src/peer/connection.ts";
import { encodeMessage } from "../../src/wire/wire.ts";

/** Two connected in-memory streams: what one writes, the other reads. */
function pipe(): [ByteStream, ByteStream] {
  const make = (
    inbox: Uint8Array[],
    outbox: Uint8Array[],
    wake: { fn?: () => void },
    peerWake: { fn?: () => void },
  ) => {
    const state = { closed: false };
    const stream: ByteStream & { state: typeof state } = {
      state,
      async read(into) {
        while (inbox.length === 0) {
          if (state.closed || other.closed) return null;
          await new Promise<void>((r) => (wake.fn = r));
        }
        const head = inbox[0];
        const n = Math.min(head.length, into.length);
        into.set(head.subarray(0, n));
        if (n === head.length) inbox.shift();
        else inbox[0] = head.subarray(n);
        return n;
      },
      write(bytes) {
        if (state.closed || other.closed) return Promise.reject(new Error("broken pipe"));
        outbox.push(bytes.slice());
        peerWake.fn?.();
        return Promise.resolve(bytes.length);
      },
      close() {
        state.closed = true;
        wake.fn?.();
        peerWake.fn?.();
      },
    };
    return stream;
  };
  const aIn: Uint8Array[] = [], bIn: Uint8Array[] = [];
  const aWake = {}, bWake = {};
  const other = { closed: false };
  const a = make(aIn, bIn, aWake, bWake);
  const b = make(bIn, aIn, bWake, aWake);
  // Closing either end ends reads at both.
  const closeA = a.close, closeB = b.close;
  a.close = () => (other.closed = true, closeA());
  b.close = () => (other.closed = true, closeB());
  return [a, b];
}

const infoHash = new Uint8Array(20).fill(7);
const id = (n: number) => new Uint8Array(20).fill(n);

function ends(opts: { theirHash?: Uint8Array; theirId?: Uint8Array } = {}) {
  const [x, y] = pipe();
  const errors: string[] = [];
  const dialer = new PeerConnection(
    { host: "10.0.0.1", port: 1, infoHash, peerId: id(1), dial: () => Promise.resolve(x) },
    1024,
    (e) => errors.push(e),
  );
  const acceptor = new PeerConnection(
    {
      host: "10.0.0.2",
      port: 2,
      infoHash: opts.theirHash ?? infoHash,
      peerId: opts.theirId ?? id(2),
      conn: y,
    },
    1024,
    (e) => errors.push(e),
  );
  return { dialer, acceptor, errors };
}

Deno.test("PeerConnection: the dialler sends its handshake first, the acceptor answers after reading it", async () => {
  const { dialer, acceptor } = ends();
  assert.equal(await dialer.connect(), true);
  assert.equal(await acceptor.connect(), true);
  assert.equal(acceptor.incoming, true);
  const [theirs, ours] = await Promise.all([dialer.handshake(), acceptor.handshake()]);
  assert.deepEqual(theirs.peerId, id(2));
  assert.deepEqual(ours.peerId, id(1));
  await dialer.send(encodeMessage({ type: "interested" }));
  assert.equal(await acceptor.fill(), true);
  assert.deepEqual(acceptor.reader.next(), new Uint8Array([2]), "the frame after the handshake");
  dialer.close();
  assert.equal(await acceptor.fill(), false, "the peer closed");
});

Deno.test("PeerConnection: a handshake for another torrent, or from ourselves, is refused", async () => {
  const other = ends({ theirHash: new Uint8Array(20).fill(9) });
  await Promise.all([other.dialer.connect(), other.acceptor.connect()]);
  const dialling = other.dialer.handshake();
  await assert.rejects(other.acceptor.handshake(), /peer answered for another infohash/);
  other.acceptor.close();
  await assert.rejects(dialling, /peer closed the connection during the handshake/);

  const self = ends({ theirId: id(1) });
  await Promise.all([self.dialer.connect(), self.acceptor.connect()]);
  const mirror = self.dialer.handshake();
  await assert.rejects(self.acceptor.handshake(), /connected to ourselves/);
  self.acceptor.close();
  await assert.rejects(mirror, /closed the connection during the handshake/);
});

Deno.test("PeerConnection: a peer that closes during the handshake, and a failed write, end it with a reason", async () => {
  const { dialer, acceptor, errors } = ends();
  await Promise.all([dialer.connect(), acceptor.connect()]);
  const hs = dialer.handshake();
  acceptor.close();
  await assert.rejects(hs, /peer closed the connection during the handshake|write failed/);
  await dialer.send(new Uint8Array(4));
  assert.equal(dialer.closed, true);
  assert.equal(errors.length, 1, "the write failure is reported once");
  assert.match(errors[0], /^write failed: broken pipe/);
});
