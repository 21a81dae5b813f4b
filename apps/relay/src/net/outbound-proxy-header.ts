import type { Buffer } from "node:buffer";
import { encodeProxyHeaderV1, encodeProxyHeaderV2, type ProxyHeader } from "@edgesocks/socks";
import { canonicalIp, ipFamily } from "@edgesocks/socks/address";

/** One end of the connection a PROXY header describes. */
export interface HeaderEndpoint {
  address: string;
  port: number;
}

/** `::ffff:a.b.c.d` for an IPv4 address, so both ends of a header share one family. */
function asIpv6(address: string): string {
  return ipFamily(address) === 4 ? `::ffff:${address}` : address;
}

/**
 * The PROXY header a chain writes to its first hop: the SOCKS client as source, the first hop
 * as destination. IPv4-mapped IPv6 is written as IPv4; when one end is IPv4 and the other IPv6,
 * the IPv4 one is written IPv4-mapped (a header carries one family). An address that is not an
 * IP (a client on a Unix socket) gives v2 LOCAL / v1 UNKNOWN: the hop sees the relay itself.
 */
export function outboundProxyHeader(
  version: "v1" | "v2",
  client: HeaderEndpoint,
  hop: HeaderEndpoint,
): Buffer {
  const source = canonicalIp(client.address);
  const destination = canonicalIp(hop.address);
  const number = version === "v1" ? 1 : 2;
  let header: ProxyHeader = { version: number, command: "local" };
  if (source !== null && destination !== null) {
    const family = ipFamily(source) === 4 && ipFamily(destination) === 4 ? 4 : 6;
    header = {
      version: number,
      command: "proxy",
      family,
      source: family === 6 ? asIpv6(source) : source,
      sourcePort: client.port,
      destination: family === 6 ? asIpv6(destination) : destination,
      destinationPort: hop.port,
    };
  }
  return version === "v1" ? encodeProxyHeaderV1(header) : encodeProxyHeaderV2(header);
}
