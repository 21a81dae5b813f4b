import { BlockList } from "node:net";
import { networkInterfaces } from "node:os";
import { ipFamily } from "@edgesocks/socks/address";

/** Link-local (cloud metadata services live here) and AWS's IPv6 metadata address. */
export const DEFAULT_BLOCKED_NETWORKS = ["169.254.0.0/16", "fe80::/10", "fd00:ec2::254/128"];

export interface EgressGuardOptions {
  /** false: the guard is off and the ACL alone decides. @default true */
  enabled: boolean;
  /** Addresses or CIDRs never connected to, whatever the ACL allows. */
  blockedNetworks: readonly string[];
  /** Refuse the relay's own SOCKS, TLS and ops ports on its own addresses. */
  blockOwnPorts: boolean;
  /** More ports refused on the relay's own addresses (a sidecar's admin port...). */
  blockedLocalPorts: readonly number[];
  /** The host's addresses; default: os.networkInterfaces(), re-read at most every 10 s. */
  localAddresses?: () => readonly string[];
}

/** Why the guard refuses a destination; null: it does not. */
export type EgressVerdict = "blocked_network" | "own_port" | null;

export type CidrResult =
  | { ok: true; address: string; prefix: number; family: "ipv4" | "ipv6" }
  | { ok: false; error: string };

/** Parses "10.0.0.0/8", "fe80::/10" or a bare address (a /32 or /128). */
export function parseCidr(text: string): CidrResult {
  const slash = text.indexOf("/");
  const address = slash < 0 ? text : text.slice(0, slash);
  const version = ipFamily(address, { zone: true });
  if (version === 0) return { ok: false, error: `"${text}": not an IP address or CIDR` };
  const max = version === 4 ? 32 : 128;
  const prefixText = slash < 0 ? String(max) : text.slice(slash + 1);
  const prefix = /^\d{1,3}$/.test(prefixText) ? Number(prefixText) : -1;
  if (prefix < 0 || prefix > max) {
    return { ok: false, error: `"${text}": the prefix must be 0-${max}` };
  }
  return { ok: true, address, prefix, family: version === 4 ? "ipv4" : "ipv6" };
}

const LOCAL_REFRESH_MS = 10_000;
/** Past this many remembered verdicts the memo starts over (a bound, not a cache policy). */
const MAX_REMEMBERED = 4096;

/**
 * Destinations the relay refuses whatever the ACL says (SSRF protection):
 * cloud metadata and link-local networks, and its own listening ports on its
 * own addresses (a loop through itself, or a client reaching the ops server
 * through the proxy). Checked on the address the relay actually connects to,
 * after DNS, so a name cannot smuggle one of these past it.
 */
export class EgressGuard {
  readonly #options: EgressGuardOptions;
  readonly #networks = new BlockList();
  /**
   * #networks.check() by address: it builds a SocketAddress per call, which
   * cost more than the rest of a CONNECT's policy checks, and #networks never
   * changes after construction, so a verdict never goes stale.
   */
  readonly #inNetworks = new Map<string, boolean>();
  readonly #ownPorts = new Set<number>();
  readonly #loopback = new BlockList();
  #local = new BlockList();
  #localReadMs = Number.NEGATIVE_INFINITY;

  constructor(options: EgressGuardOptions) {
    this.#options = options;
    for (const text of options.blockedNetworks) {
      const cidr = parseCidr(text);
      if (!cidr.ok) throw new Error(`egress.blocked_networks: ${cidr.error}`);
      this.#networks.addSubnet(cidr.address, cidr.prefix, cidr.family);
    }
    for (const port of options.blockedLocalPorts) this.#ownPorts.add(port);
    this.#loopback.addSubnet("127.0.0.0", 8, "ipv4");
    this.#loopback.addAddress("::1", "ipv6");
  }

  get enabled(): boolean {
    return this.#options.enabled;
  }

  /** The relay's listening ports, once they are bound (port 0 becomes a real port). */
  addOwnPorts(ports: Iterable<number>): void {
    if (!this.#options.blockOwnPorts) return;
    for (const port of ports) if (port > 0) this.#ownPorts.add(port);
  }

  /** Whether connecting to `address`:`port` (an IP literal) is refused, and why. */
  check(address: string, port: number): EgressVerdict {
    if (!this.#options.enabled) return null;
    const family = familyOf(address);
    if (!family) return null;
    if (this.#blockedNetwork(address, family)) return "blocked_network";
    if (this.#ownPorts.has(port) && this.#isLocal(address, family)) return "own_port";
    return null;
  }

  /** Whether a BIND peer at `address` is refused (networks only: its port is its own). */
  blocksPeer(address: string): boolean {
    if (!this.#options.enabled) return false;
    const family = familyOf(address);
    return family !== null && this.#blockedNetwork(address, family);
  }

  #blockedNetwork(address: string, family: "ipv4" | "ipv6"): boolean {
    let blocked = this.#inNetworks.get(address);
    if (blocked === undefined) {
      blocked = this.#networks.check(address, family);
      if (this.#inNetworks.size >= MAX_REMEMBERED) this.#inNetworks.clear();
      this.#inNetworks.set(address, blocked);
    }
    return blocked;
  }

  #isLocal(address: string, family: "ipv4" | "ipv6"): boolean {
    if (this.#loopback.check(address, family)) return true;
    const now = performance.now();
    if (now - this.#localReadMs > LOCAL_REFRESH_MS) {
      this.#localReadMs = now;
      const local = new BlockList();
      for (const own of (this.#options.localAddresses ?? interfaceAddresses)()) {
        const ownFamily = familyOf(own);
        if (ownFamily) local.addAddress(own, ownFamily);
      }
      this.#local = local;
    }
    return this.#local.check(address, family);
  }
}

function familyOf(address: string): "ipv4" | "ipv6" | null {
  const version = ipFamily(address, { zone: true });
  return version === 4 ? "ipv4" : version === 6 ? "ipv6" : null;
}

function interfaceAddresses(): string[] {
  const addresses: string[] = [];
  for (const list of Object.values(networkInterfaces())) {
    for (const entry of list ?? []) addresses.push(entry.address.split("%")[0]!);
  }
  return addresses;
}
