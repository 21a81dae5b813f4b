import type { IncomingMessage } from "node:http";
import { type IpNetwork, ipFamily, networkContains, parseNetwork } from "@edgesocks/socks/address";
import { ApiError } from "../errors";

/** Proxies whose `X-Forwarded-For` is believed; parsed once from `a.b.c.d`, CIDRs, IPv6. */
export class TrustedProxies {
  readonly #networks: readonly IpNetwork[];

  /** Throws API_E_BAD_INPUT naming the entry that is neither an address nor a CIDR. */
  constructor(entries: readonly string[]) {
    this.#networks = entries.map((entry) => {
      const parsed = parseNetwork(entry);
      if (parsed.ok) return parsed.network;
      throw new ApiError(
        "API_E_BAD_INPUT",
        `trusted proxy "${entry}": expected an IP address or a CIDR such as 10.0.0.0/8`,
        { cause: new Error(parsed.error) },
      );
    });
  }

  get size(): number {
    return this.#networks.length;
  }

  /** Whether `address` (zone id ignored; IPv4-mapped IPv6 as IPv4) is a trusted proxy. */
  has(address: string): boolean {
    if (this.#networks.length === 0) return false;
    const percent = address.indexOf("%");
    const bare = percent < 0 ? address : address.slice(0, percent);
    return this.#networks.some((network) => networkContains(network, bare));
  }
}

/**
 * The client's address: the socket's peer, or, when that peer is a trusted proxy, the
 * right-most `X-Forwarded-For` entry that is not itself a trusted proxy (entries left of it
 * were written by the client and prove nothing).
 */
export function clientAddressOf(req: IncomingMessage, trusted: TrustedProxies): string {
  const peer = req.socket.remoteAddress ?? "unknown";
  if (!trusted.has(peer)) return peer;
  const header = req.headers["x-forwarded-for"];
  const hops = (Array.isArray(header) ? header.join(",") : (header ?? ""))
    .split(",")
    .map((hop) => hop.trim())
    .filter((hop) => hop !== "");
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = hops[i]!;
    if (ipFamily(hop, { zone: true }) === 0) return peer;
    if (!trusted.has(hop)) return hop;
  }
  return peer;
}
