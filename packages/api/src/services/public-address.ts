import { parseHostPort } from "@edgesocks/socks/address";
import ipaddr from "ipaddr.js";

/** Address ranges a relay's public address may not be in unless its enrollment lists it. */
const NOT_PUBLIC = new Set(["unspecified", "loopback", "linkLocal", "multicast", "broadcast"]);

/**
 * Why `address` may not be the node's public address (what /proxy.pac hands to browsers), or
 * null when it may. With an allow-list from enrollment (`publicAddresses`) it must be one of its
 * entries exactly; without one it must be a well-formed host:port whose host is a DNS name or
 * an address outside loopback, link-local, unspecified, multicast and broadcast.
 */
export function publicAddressProblem(
  address: string,
  allowed: readonly string[] | null,
): string | null {
  const parsed = parseHostPort(address);
  if (parsed === undefined) return `publicAddress: "${address}" is not HOST:PORT`;
  if (allowed !== null) {
    return allowed.includes(address)
      ? null
      : `publicAddress: "${address}" is not in the node's enrolled publicAddresses (${allowed.join(", ") || "none"})`;
  }
  if (
    parsed.host.toLowerCase() === "localhost" ||
    parsed.host.toLowerCase().endsWith(".localhost")
  ) {
    return `publicAddress: "${address}" is loopback; enroll the node with publicAddresses to allow it`;
  }
  if (!ipaddr.isValid(parsed.host)) return null;
  const range = ipaddr.process(parsed.host).range();
  return NOT_PUBLIC.has(range)
    ? `publicAddress: "${address}" is ${range}; enroll the node with publicAddresses to allow it`
    : null;
}
