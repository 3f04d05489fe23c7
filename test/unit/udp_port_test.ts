/** The shared UDP port: DHT and uTP packets go to their own hearers; a datagram cut short is never handed on. */

import assert from "node:assert/strict";
import dgram from "node:dgram";
import { UdpPort } from "../../src/common/udp_port.ts";

Deno.test("UdpPort: tells DHT from uTP by the first byte, drops the rest and any datagram too long for its buffer", async () => {
  const port = await UdpPort.bind(0, "127.0.0.1");
  const dht: number[] = [], utp: number[] = [];
  port.dht = (p) => dht.push(p.length);
  port.utp = (p) => utp.push(p.length);
  const sender = dgram.createSocket("udp4");
  try {
    const send = (first: number, length: number) =>
      new Promise<void>((r) => {
        const packet = new Uint8Array(length);
        packet[0] = first;
        sender.send(packet, port.port, "127.0.0.1", () => r());
      });
    await send(0x64, 200); // "d": a bencoded dictionary
    await send(0x41, 1472); // a uTP SYN as large as a 1,500-byte path carries
    await send(0x01, 3000); // a uTP DATA packet too large: it would arrive cut short
    await send(0x13, 68); // a BitTorrent handshake has no business here
    const end = Date.now() + 2000;
    while (dht.length + utp.length + port.dropped < 4 && Date.now() < end) {
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.deepEqual(dht, [200]);
    assert.deepEqual(utp, [1472]);
    assert.equal(port.dropped, 2);
  } finally {
    sender.close();
    port.close();
  }
});
