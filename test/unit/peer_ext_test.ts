import assert from "node:assert/strict";
import { PeerExtensions } from "../../src/peer/extensions.ts";
import {
  decodeExtHandshake,
  decodeMetadataMessage,
  decodePex,
  encodeExtHandshake,
  encodeMetadataMessage,
  encodePex,
} from "../../src/wire/extension.ts";
import { decodeMessage, type Message } from "../../src/wire/wire.ts";
import { payload } from "../helpers/make_torrent.ts";

function setup(
  input: ConstructorParameters<typeof PeerExtensions>[0],
  peerM = { ut_metadata: 7, ut_pex: 8 },
) {
  const sent: Extract<Message, { type: "extended" }>[] = [];
  const events: unknown[] = [];
  const ext = new PeerExtensions(
    input,
    { host: "10.0.0.9", port: 5000 },
    (bytes) => sent.push(decodeMessage(bytes.subarray(4)) as Extract<Message, { type: "extended" }>),
    (e) => events.push(e),
  );
  ext.handle(0, encodeExtHandshake({ m: peerM, port: 5001, client: "Peer 1.0", metadataSize: 40_000 }));
  return { ext, sent, events };
}

Deno.test("PeerExtensions reports the peer's handshake once, and ours names ut_pex only for public torrents", () => {
  const { ext, events } = setup({ listenPort: 6881 });
  ext.handle(0, encodeExtHandshake({ m: { ut_pex: 0 } }));
  assert.deepEqual(events, [{ type: "link.extended", client: "Peer 1.0", port: 5001, metadataSize: 40_000 }]);
  assert.equal(ext.hasMetadata, true, "a later handshake keeps what it does not name");
  assert.deepEqual(ext.peer?.m, { ut_metadata: 7 }, "an id of 0 turns an extension off");
  const ours = decodeExtHandshake(
    (decodeMessage(ext.handshake(500).subarray(4)) as { payload: Uint8Array }).payload,
  );
  assert.deepEqual(ours.m, { ut_metadata: 1, ut_pex: 2 });
  assert.equal(ours.port, 6881);
  const priv = decodeExtHandshake(
    (decodeMessage(setup({ private: true }).ext.handshake(500).subarray(4)) as { payload: Uint8Array })
      .payload,
  );
  assert.deepEqual(priv.m, { ut_metadata: 1 });
});

Deno.test("PeerExtensions serves metadata pieces at the peer's id and rejects pieces it does not have", () => {
  const metadata = payload(20_000, 3);
  const { ext, sent } = setup({ metadata });
  ext.handle(1, encodeMetadataMessage({ kind: "request", piece: 1 }));
  ext.handle(1, encodeMetadataMessage({ kind: "request", piece: 2 }));
  assert.equal(sent[0].ext, 7);
  assert.deepEqual(decodeMetadataMessage(sent[0].payload), {
    kind: "data",
    piece: 1,
    totalSize: 20_000,
    data: metadata.subarray(16384),
  });
  assert.deepEqual(decodeMetadataMessage(sent[1].payload), { kind: "reject", piece: 2 });
  const { ext: fetching, sent: s2 } = setup({});
  fetching.handle(1, encodeMetadataMessage({ kind: "request", piece: 0 }));
  assert.deepEqual(decodeMetadataMessage(s2[0].payload), { kind: "reject", piece: 0 }, "no metadata yet");
});

Deno.test("PeerExtensions tells the peer of added and dropped peers, never itself, at most once per interval", () => {
  let peers = [{ host: "10.0.0.1", port: 1 }, { host: "10.0.0.9", port: 5000 }, {
    host: "10.0.0.9",
    port: 5001,
  }];
  const { ext, sent } = setup({ pexPeers: () => peers, pexIntervalMs: 60_000 });
  ext.tick(1_000_000);
  assert.equal(sent.length, 1);
  assert.equal(sent[0].ext, 8);
  assert.deepEqual(decodePex(sent[0].payload), { added: [{ host: "10.0.0.1", port: 1 }], dropped: [] });
  peers = [{ host: "10.0.0.2", port: 2 }];
  ext.tick(1_030_000);
  assert.equal(sent.length, 1, "not again within a minute");
  ext.tick(1_060_000);
  assert.deepEqual(decodePex(sent[1].payload), {
    added: [{ host: "10.0.0.2", port: 2 }],
    dropped: [{ host: "10.0.0.1", port: 1 }],
  });
  ext.tick(1_200_000);
  assert.equal(sent.length, 2, "nothing changed: nothing sent");
});

Deno.test("PeerExtensions tells a long list 50 at a time, one message a minute, and then no more while it is the same", () => {
  const peers = Array.from({ length: 120 }, (_, i) => ({ host: `10.0.${i >> 8}.${i & 255}`, port: 6881 }));
  const { ext, sent } = setup({ pexPeers: () => peers, pexIntervalMs: 60_000 });
  const told: string[] = [];
  for (let minute = 0; minute < 5; minute++) {
    ext.tick(1_000_000 + minute * 60_000);
    const message = sent.at(-1);
    if (sent.length === minute + 1) told.push(...decodePex(message!.payload).added.map((p) => p.host));
  }
  assert.equal(sent.length, 3, "50, 50 and 20, then nothing new");
  assert.equal(new Set(told).size, 120, "every peer told once");
});

Deno.test("PeerExtensions passes on peers from PEX, except for a private torrent", () => {
  const message = encodePex({ added: [{ host: "10.1.1.1", port: 7 }], dropped: [] });
  const pub = setup({});
  pub.ext.handle(2, message);
  assert.deepEqual(pub.events.at(-1), { type: "link.pex", peers: [{ host: "10.1.1.1", port: 7 }] });
  const priv = setup({ private: true });
  priv.ext.handle(2, message);
  assert.equal(priv.events.length, 1, "only the handshake");
  assert.throws(() => pub.ext.handle(2, new Uint8Array([1, 2, 3])), SyntaxError);
});
