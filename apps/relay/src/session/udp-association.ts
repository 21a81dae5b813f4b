import { createSocket, type RemoteInfo, type Socket as UdpSocket } from "node:dgram";
import { isIPv6 } from "node:net";
import {
  addressFromHost,
  decodeUdpHeader,
  encodeUdpHeader,
  type SocksAddress,
} from "@edgesocks/socks";
import type { RelayMetrics } from "../metrics";
import { normalizeDestination } from "../net/destination";
import type { Resolver } from "../net/resolver";
import type { TrafficCounters } from "./pipe";

export interface UdpAssociationOptions {
  /** Local address to bind: the address the client reached over TCP. */
  bindAddress: string;
  /** Inclusive port range for firewalls; unset: any ephemeral port. */
  portRange?: readonly [number, number] | undefined;
  /** The only source datagrams are accepted from (the TCP peer, or what the request named). */
  clientAddress: string;
  /** 0: learned from the first datagram from `clientAddress`. */
  clientPort: number;
  idleTimeoutMs: number;
  /** Decides each destination (ACL results cached per association, the egress guard per datagram). */
  policy: DatagramPolicy;
  resolver: Resolver;
  metrics: RelayMetrics;
  counters: TrafficCounters;
  /** Called once when the association ends by itself (idle, socket error). */
  onEnd: (reason: string) => void;
  /** Largest datagram the relay forwards. @default 65507 */
  maxDatagramBytes?: number;
  /** Where datagrams of routed rules go; unset: they are dropped ("route_udp_unsupported"). */
  routed?: RoutedDatagrams | undefined;
}

/** What happens to datagrams for one destination: sent directly, through a route, or dropped. */
export type DatagramVerdict =
  | { action: "direct" }
  | { action: "route"; route: string }
  | { action: "drop"; reason: string };

/** Sends a routed datagram on (through the route's parent) and delivers the replies. */
export interface RoutedDatagrams {
  send(options: {
    route: string;
    host: string;
    address: string;
    port: number;
    payload: Buffer;
    /** Hands a parent's reply to the client, with the source the parent named. */
    deliver: (address: string, port: number, payload: Buffer) => void;
  }): void;
  close(): void;
}

/** Where a datagram may go: the session's destination decision (session/destination-decision.ts). */
export interface DatagramPolicy {
  /** The ACL (and route) for one destination. */
  decide(host: string, address: string, port: number): DatagramVerdict;
  /**
   * A name decided before DNS: a route resolving remotely sends it on unresolved (or drops it);
   * null: resolve it here and decide by its address.
   */
  decideByName(host: string, port: number): DatagramVerdict | null;
  /** Refused by the egress guard whatever the ACL says (dropped as "egress_guard"). */
  egressRefuses(address: string, port: number): boolean;
}

/** Bounded so a client cycling through destinations cannot grow it without end. */
const MAX_CACHED_DECISIONS = 1024;

/**
 * One UDP ASSOCIATE: unwraps the client's datagrams (RFC 1928 §7), forwards
 * the payload to each destination the ACL allows, and wraps replies from
 * destinations the client has sent to. Everything else is dropped and counted.
 */
export class UdpAssociation {
  readonly #socket: UdpSocket;
  readonly #options: UdpAssociationOptions;
  readonly #decisions = new Map<string, DatagramVerdict>();
  readonly #contacted = new Set<string>();
  #clientPort: number;
  #idleTimer: NodeJS.Timeout | undefined;
  #closed = false;

  private constructor(socket: UdpSocket, options: UdpAssociationOptions) {
    this.#socket = socket;
    this.#options = options;
    this.#clientPort = options.clientPort;
    socket.on("message", (message, rinfo) => this.#onMessage(message, rinfo));
    socket.on("error", () => this.#end("udp_socket_error"));
    this.#touch();
  }

  static async open(options: UdpAssociationOptions): Promise<UdpAssociation> {
    const type = isIPv6(options.bindAddress) ? "udp6" : "udp4";
    const [low, high] = options.portRange ?? [0, 0];
    // Random start inside the range so concurrent associations do not all
    // collide on its first port.
    const span = high - low + 1;
    const start = Math.floor(Math.random() * span);
    for (let i = 0; i < span; i++) {
      const port = low === 0 ? 0 : low + ((start + i) % span);
      const socket = createSocket({ type, ipv6Only: type === "udp6" });
      try {
        await new Promise<void>((resolve, reject) => {
          socket.once("error", reject);
          socket.bind({ address: options.bindAddress, port, exclusive: true }, () => {
            socket.off("error", reject);
            resolve();
          });
        });
        return new UdpAssociation(socket, options);
      } catch (error) {
        socket.close();
        if (low === 0 || (error as NodeJS.ErrnoException).code !== "EADDRINUSE") throw error;
      }
    }
    throw Object.assign(new Error(`no free UDP port in ${low}-${high}`), { code: "EADDRINUSE" });
  }

  address(): { address: string; port: number } {
    const { address, port } = this.#socket.address();
    return { address, port };
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#idleTimer);
    this.#socket.close();
    this.#options.routed?.close();
  }

  #end(reason: string): void {
    if (this.#closed) return;
    this.close();
    this.#options.onEnd(reason);
  }

  #touch(): void {
    clearTimeout(this.#idleTimer);
    this.#idleTimer = setTimeout(() => this.#end("udp_idle_timeout"), this.#options.idleTimeoutMs);
    this.#idleTimer.unref();
  }

  #drop(reason: string): void {
    this.#options.metrics.udpDatagrams.inc({ direction: "dropped", reason });
  }

  #onMessage(message: Buffer, from: RemoteInfo): void {
    const fromAddress = normalizeIp(from.address);
    if (
      fromAddress === this.#options.clientAddress &&
      (this.#clientPort === 0 || from.port === this.#clientPort)
    ) {
      this.#clientPort ||= from.port;
      this.#fromClient(message);
      return;
    }
    const key = `${fromAddress}|${from.port}`;
    if (!this.#contacted.has(key) || this.#clientPort === 0) {
      this.#drop(
        fromAddress === this.#options.clientAddress ? "wrong_client_port" : "unknown_source",
      );
      return;
    }
    this.#deliver(addressFromHost(fromAddress), from.port, message);
  }

  /** A reply to the client, wrapped with the source it came from. */
  #deliver(source: SocksAddress, port: number, message: Buffer): void {
    if (this.#closed || this.#clientPort === 0) return;
    this.#touch();
    const { counters, metrics } = this.#options;
    counters.bytesDown += message.length;
    counters.packetsDown += 1;
    metrics.udpDatagrams.inc({ direction: "out", reason: "" });
    const header = encodeUdpHeader({ frag: 0, address: source, port });
    this.#socket.send([header, message], this.#clientPort, this.#options.clientAddress);
  }

  #fromClient(message: Buffer): void {
    const decoded = decodeUdpHeader(message);
    if (decoded.status !== "ok") return this.#drop("malformed");
    const { frag, address, port } = decoded.value;
    // Fragmentation is optional in RFC 1928; we do not reassemble.
    if (frag !== 0) return this.#drop("fragmented");
    const payload = message.subarray(decoded.length);
    if (payload.length > (this.#options.maxDatagramBytes ?? 65_507)) return this.#drop("too_large");
    if (port === 0) return this.#drop("bad_destination");
    this.#touch();
    this.#options.metrics.udpDatagrams.inc({ direction: "in", reason: "" });
    const normalized = normalizeDestination(address.host);
    if (!normalized.ok) return this.#drop("bad_destination");
    const destination = normalized.destination;
    if (destination.kind === "ip") {
      this.#send(destination.host, destination.address, port, payload);
      return;
    }
    const byName = this.#decideByName(destination.host, port);
    if (byName !== null) {
      if (byName.action === "drop") return this.#drop(byName.reason);
      if (byName.action === "route")
        return this.#route(byName.route, destination.host, "", port, payload);
    }
    this.#options.resolver.resolve(destination.host).then((resolved) => {
      if (this.#closed) return;
      if (!resolved.ok || !resolved.addresses[0]) return this.#drop("dns_failed");
      const wanted = isIPv6(this.#options.bindAddress) ? 6 : 4;
      const pick = resolved.addresses.find((a) => a.family === wanted) ?? resolved.addresses[0];
      const mapped = normalizeDestination(pick.address);
      if (!mapped.ok || mapped.destination.kind !== "ip") return this.#drop("bad_destination");
      this.#send(destination.host, mapped.destination.address, port, payload);
    });
  }

  /** A name's verdict before DNS, cached like the others (under an empty address). */
  #decideByName(host: string, port: number): DatagramVerdict | null {
    const key = `${host}||${port}`;
    if (this.#decisions.has(key)) return this.#decisions.get(key)!;
    const verdict = this.#options.policy.decideByName(host, port);
    if (verdict === null) return null;
    if (this.#decisions.size >= MAX_CACHED_DECISIONS) this.#decisions.clear();
    this.#decisions.set(key, verdict);
    return verdict;
  }

  /** `address` "": the name goes to the parent unresolved. */
  #route(route: string, host: string, address: string, port: number, payload: Buffer): void {
    const { counters, routed } = this.#options;
    if (!routed) return this.#drop("route_udp_unsupported");
    counters.bytesUp += payload.length;
    counters.packetsUp += 1;
    routed.send({
      route,
      host,
      address,
      port,
      payload,
      deliver: (from, fromPort, reply) => this.#deliver(addressFromHost(from), fromPort, reply),
    });
  }

  #send(host: string, address: string, port: number, payload: Buffer): void {
    const key = `${host}|${address}|${port}`;
    let verdict = this.#decisions.get(key);
    if (verdict === undefined) {
      verdict = this.#options.policy.decide(host, address, port);
      if (this.#decisions.size >= MAX_CACHED_DECISIONS) this.#decisions.clear();
      this.#decisions.set(key, verdict);
    }
    if (verdict.action === "drop") return this.#drop(verdict.reason);
    if (this.#options.policy.egressRefuses(address, port)) return this.#drop("egress_guard");
    const { counters } = this.#options;
    if (verdict.action === "route") return this.#route(verdict.route, host, address, port, payload);
    if (isIPv6(address) !== isIPv6(this.#options.bindAddress)) return this.#drop("family_mismatch");
    counters.bytesUp += payload.length;
    counters.packetsUp += 1;
    if (this.#contacted.size < MAX_CACHED_DECISIONS) this.#contacted.add(`${address}|${port}`);
    this.#socket.send(payload, port, address);
  }
}

function normalizeIp(address: string): string {
  const result = normalizeDestination(address);
  return result.ok && result.destination.kind === "ip" ? result.destination.address : address;
}
