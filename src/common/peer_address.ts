/**
 * A peer's address, and compact peer lists, as trackers (BEP 23, BEP 7, BEP 15) and peer exchange (BEP 11) send them: 6 bytes a peer
 * for IPv4 (address, port), 18 for IPv6, big-endian.
 *
 * @module
 */

/** A peer's address as a tracker gives it. */
export interface PeerAddress {
  /** An IPv4 or IPv6 address, or a host name. */
  host: string;
  /** The TCP port (1 to 65535). */
  port: number;
}

/** Reads compact peers; a trailing partial entry is ignored, and so is port 0 unless `keepPortZero`. */
export function decodeCompactPeers(bytes: Uint8Array, ipv6: boolean, keepPortZero = false): PeerAddress[] {
  const size = ipv6 ? 18 : 6;
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const peers: PeerAddress[] = [];
  for (let at = 0; at + size <= bytes.length; at += size) {
    let host: string;
    if (ipv6) {
      const groups = [];
      for (let g = 0; g < 8; g++) groups.push(v.getUint16(at + 2 * g).toString(16));
      host = groups.join(":");
    } else {
      host = `${bytes[at]}.${bytes[at + 1]}.${bytes[at + 2]}.${bytes[at + 3]}`;
    }
    const port = v.getUint16(at + size - 2);
    if (port > 0 || keepPortZero) peers.push({ host, port });
  }
  return peers;
}

/** Writes the IPv4 peers of `peers` (or, with `ipv6`, the IPv6 ones) in compact form. */
export function encodeCompactPeers(peers: PeerAddress[], ipv6: boolean): Uint8Array {
  const list = peers.filter((p) => p.host.includes(":") === ipv6);
  const size = ipv6 ? 18 : 6;
  const out = new Uint8Array(list.length * size);
  const v = new DataView(out.buffer);
  list.forEach((p, i) => {
    if (ipv6) {
      expandIpv6(p.host).forEach((g, j) => v.setUint16(i * size + 2 * j, g));
    } else {
      out.set(p.host.split(".").map(Number), i * size);
    }
    v.setUint16(i * size + size - 2, p.port);
  });
  return out;
}

function expandIpv6(host: string): number[] {
  const [head, tail = ""] = host.replace(/^\[|\]$/g, "").split("::");
  const parse = (s: string) => (s ? s.split(":").map((g) => parseInt(g, 16) || 0) : []);
  const a = parse(head), b = parse(tail);
  return [...a, ...new Array(Math.max(0, 8 - a.length - b.length)).fill(0), ...b].slice(0, 8);
}

/** An IPv4 address that a socket listening on both families reports as IPv6 (`::ffff:1.2.3.4`), as plain IPv4. */
export function unmapped(host: string): string {
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(host);
  return m ? m[1] : host;
}

/**
 * The first global unicast IPv6 address (2000::/3) among `interfaces` (by default this machine's): the one to tell
 * trackers (BEP 7 `ipv6=`) so IPv6 peers can reach us. Loopback, link-local (fe80::/10) and unique-local
 * (fc00::/7) addresses are of no use to peers elsewhere and are skipped. Undefined when there is none, or when
 * listing the interfaces is not allowed.
 */
export function globalIpv6(interfaces?: { family: string; address: string }[]): string | undefined {
  try {
    interfaces ??= Deno.networkInterfaces();
  } catch {
    return undefined;
  }
  return interfaces.find((i) => i.family === "IPv6" && (expandIpv6(i.address)[0] & 0xe000) === 0x2000)
    ?.address;
}
