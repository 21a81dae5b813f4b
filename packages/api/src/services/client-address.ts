import type { IncomingMessage } from "node:http";
import ipaddr from "ipaddr.js";
import { ApiError } from "../errors";

type Range = [ipaddr.IPv4 | ipaddr.IPv6, number];

/** Proxies whose `X-Forwarded-For` is believed; parsed once from `a.b.c.d`, CIDRs, IPv6. */
export class TrustedProxies {
  readonly #ranges: readonly Range[];

  /** Throws API_E_BAD_INPUT naming the entry that is neither an address nor a CIDR. */
  constructor(entries: readonly string[]) {
    this.#ranges = entries.map((entry): Range => {
      try {
        if (entry.includes("/")) return ipaddr.parseCIDR(entry);
        const address = ipaddr.parse(entry);
        return [address, address.kind() === "ipv4" ? 32 : 128];
      } catch (cause) {
        throw new ApiError(
          "API_E_BAD_INPUT",
          `trusted proxy "${entry}": expected an IP address or a CIDR such as 10.0.0.0/8`,
          { cause },
        );
      }
    });
  }

  get size(): number {
    return this.#ranges.length;
  }

  has(address: string): boolean {
    if (this.#ranges.length === 0 || !ipaddr.isValid(address)) return false;
    const parsed = ipaddr.process(address.split("%")[0]!);
    return this.#ranges.some(
      ([range, bits]) => range.kind() === parsed.kind() && parsed.match(range, bits),
    );
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
    if (!ipaddr.isValid(hop)) return peer;
    if (!trusted.has(hop)) return hop;
  }
  return peer;
}
