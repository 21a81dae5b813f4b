import type { Socket } from "node:net";
import type { Route, RouteHop } from "@edgesocks/policy";
import { addressFromHost, Reply } from "@edgesocks/socks";
import { ipFamily } from "@edgesocks/socks/address";
import { BoundedLabel, type RelayMetrics } from "../metrics";
import type { EgressGuard } from "./egress-guard";
import { HandshakeIo } from "./handshake-io";
import { type HopBound, type HopCommand, type HopTarget, negotiateHop } from "./hop-handshake";
import { type HeaderEndpoint, outboundProxyHeader } from "./outbound-proxy-header";
import type { ResolvedAddress, Resolver } from "./resolver";
import { RouteHealth } from "./route-health";
import { connectUpstream } from "./upstream";

/** How a hop failed; `unreachable`: the hop before it could not connect to it. */
export type HopFailureKind =
  | "dns"
  | "egress_guard"
  | "connect"
  | "timeout"
  | "closed"
  | "protocol"
  | "auth"
  | "unreachable";

/** A hop of a chain that failed, named for logs, records and errors. */
export class RouteHopError extends Error {
  readonly code = "RELAY_E_ROUTE_HOP";
  constructor(
    readonly route: string,
    readonly chain: number,
    /** 0-based index in the chain. */
    readonly hop: number,
    readonly kind: HopFailureKind,
    detail: string,
  ) {
    super(`route ${route} chain ${chain} hop ${hop + 1}: ${kind} (${detail})`);
    this.name = "RouteHopError";
  }
}

export type RouteDialResult =
  | {
      ok: true;
      socket: Socket;
      chain: number;
      /** The last hop's reply: where it connected from, or (BIND) where it listens. */
      bound: HopBound;
    }
  | {
      ok: false;
      /** The SOCKS5 reply for the client. */
      reply: number;
      /** The close reason of the session record. */
      reason: string;
      /** The last chain tried; null when none was. */
      chain: number | null;
      /** Every hop failure on the way, first to last. */
      failures: RouteHopError[];
    };

type ChainResult =
  | { ok: true; socket: Socket; bound: HopBound }
  | { ok: false; failure: RouteHopError; countsAgainstHop: boolean }
  | { ok: false; failure: null; reply: number; detail: string };

export interface RouteDialerOptions {
  resolver: Pick<Resolver, "resolve">;
  egress?: EgressGuard | undefined;
  metrics: RelayMetrics;
}

/** `socks5://127.0.0.1:1080`: how metrics and logs name a hop. */
export function hopName(hop: RouteHop): string {
  const host = ipFamily(hop.host) === 6 ? `[${hop.host}]` : hop.host;
  return `${hop.type}://${host}:${hop.port}`;
}

function hopTarget(hop: RouteHop): HopTarget {
  return { address: addressFromHost(hop.host), port: hop.port };
}

/** Whether a chain's last hop can BIND (HTTP CONNECT cannot). */
export function chainCanBind(hops: readonly RouteHop[]): boolean {
  return hops[hops.length - 1]!.type !== "http";
}

/**
 * CONNECTs (or BINDs) through a route: picks chains in the route's selector order, skips chains with a
 * hop marked down, and for each chain connects to its first hop (the egress guard checks that
 * address) and negotiates hop after hop until the last one connects to the destination, all
 * within one connect budget per chain. A hop failure counts against that hop's health and
 * fails over to the next chain; the destination refusing (the last hop's answer) does not,
 * since another chain would most likely hear the same.
 */
export class RouteDialer {
  readonly health = new RouteHealth();
  readonly #options: RouteDialerOptions;
  /** Round-robin position by route name. */
  readonly #next = new Map<string, number>();
  readonly #routeLabel = new BoundedLabel(100);
  readonly #hopLabel = new BoundedLabel(300);

  constructor(options: RouteDialerOptions) {
    this.#options = options;
  }

  /** The metric labels of `route` and one of its hops, bounded as the dialer's own are. */
  labels(routeName: string, hop: RouteHop): { route: string; hop: string } {
    return { route: this.#routeLabel.of(routeName), hop: this.#hopLabel.of(hopName(hop)) };
  }

  async dial(
    route: Route,
    target: HopTarget,
    options: {
      timeoutMs: number;
      closed: () => boolean;
      /** What the last hop is asked for; earlier hops always CONNECT. @default "connect" */
      command?: HopCommand;
      /** The SOCKS client (after an inbound PROXY header): a chain's PROXY header names it. */
      client: HeaderEndpoint;
    },
  ): Promise<RouteDialResult> {
    const command = options.command ?? "connect";
    const { metrics } = this.#options;
    const label = this.#routeLabel.of(route.name);
    const nowMs = performance.now();
    const order = this.#order(route).filter(
      (chain) =>
        (command !== "bind" || chainCanBind(route.chains[chain]!.hops)) &&
        !route.chains[chain]!.hops.some((_, hop) =>
          this.health.isDown(healthKey(route, chain, hop), nowMs),
        ),
    );
    const failures: RouteHopError[] = [];
    if (order.length === 0) {
      metrics.routeConnections.inc({ route: label, result: "unavailable" });
      return {
        ok: false,
        reply: Reply.GeneralFailure,
        reason: `route_unavailable:${route.name}`,
        chain: null,
        failures,
      };
    }
    let last: RouteDialResult | null = null;
    for (const chain of order) {
      const result = await this.#dialChain(route, chain, target, { ...options, command });
      if (result.ok) {
        if (options.closed()) {
          result.socket.destroy();
        } else {
          for (let hop = 0; hop < route.chains[chain]!.hops.length; hop++) {
            this.health.succeeded(healthKey(route, chain, hop));
          }
        }
        metrics.routeConnections.inc({ route: label, result: "ok" });
        return { ok: true, socket: result.socket, chain, bound: result.bound };
      }
      if (result.failure === null) {
        // The destination, not the chain: every hop did its part.
        metrics.routeConnections.inc({ route: label, result: "destination_failed" });
        return {
          ok: false,
          reply: result.reply,
          reason: `route_destination_failed:${result.detail}`,
          chain,
          failures,
        };
      }
      const failure = result.failure;
      failures.push(failure);
      const hop = route.chains[chain]!.hops[failure.hop]!;
      metrics.routeHopFailures.inc({ route: label, hop: this.#hopLabel.of(hopName(hop)) });
      if (result.countsAgainstHop) {
        this.health.failed(healthKey(route, chain, failure.hop), {
          maxFails: route.maxFails,
          failTimeoutMs: route.failTimeoutSecs * 1000,
          nowMs: performance.now(),
        });
      }
      last = {
        ok: false,
        reply: failure.kind === "egress_guard" ? Reply.NotAllowed : Reply.GeneralFailure,
        reason: `route_failed:chain${chain}.hop${failure.hop + 1}:${failure.kind}`,
        chain,
        failures,
      };
      if (options.closed()) break;
    }
    metrics.routeConnections.inc({ route: label, result: "failed" });
    return last!;
  }

  /** Chain indexes in the order to try them. */
  #order(route: Route): number[] {
    const count = route.chains.length;
    let first = 0;
    if (route.selector === "round") {
      first = (this.#next.get(route.name) ?? 0) % count;
      if (this.#next.size >= 4096) this.#next.clear();
      this.#next.set(route.name, first + 1);
    } else if (route.selector === "random") {
      first = Math.floor(Math.random() * count);
    }
    return Array.from({ length: count }, (_, i) => (first + i) % count);
  }

  async #dialChain(
    route: Route,
    chain: number,
    target: HopTarget,
    {
      timeoutMs,
      client,
      command,
    }: { timeoutMs: number; client: HeaderEndpoint; command: HopCommand },
  ): Promise<ChainResult> {
    const { hops, proxyProtocol } = route.chains[chain]!;
    const fail = (
      hop: number,
      kind: HopFailureKind,
      detail: string,
      counts = true,
    ): ChainResult => ({
      ok: false,
      failure: new RouteHopError(route.name, chain, hop, kind, detail),
      countsAgainstHop: counts,
    });
    const started = performance.now();
    const first = hops[0]!;
    const addresses = await this.hopAddresses(first);
    if (!addresses.ok) return fail(0, addresses.kind, addresses.detail, addresses.kind === "dns");
    const remainingMs = () => Math.max(1, timeoutMs - (performance.now() - started));
    const connected = await connectUpstream(addresses.addresses, {
      port: first.port,
      timeoutMs: remainingMs(),
    });
    if (!connected.ok) {
      return fail(0, connected.code === "ETIMEDOUT" ? "timeout" : "connect", connected.code);
    }
    const socket = connected.socket;
    let timedOut = false;
    const budget = setTimeout(() => {
      timedOut = true;
      socket.destroy();
    }, remainingMs());
    const io = new HandshakeIo(socket);
    let handedOver = false;
    let bound: HopBound = { host: "0.0.0.0", port: 0 };
    try {
      if (proxyProtocol !== undefined) {
        // Ahead of any handshake byte: the hop reads the header before its own protocol.
        const hop = { address: connected.address.address, port: first.port };
        socket.write(outboundProxyHeader(proxyProtocol, client, hop));
      }
      for (let hop = 0; hop < hops.length; hop++) {
        const lastHop = hop === hops.length - 1;
        const outcome = await negotiateHop(
          io,
          hops[hop]!,
          lastHop ? target : hopTarget(hops[hop + 1]!),
          lastHop ? command : "connect",
        );
        if (timedOut) return fail(hop, "timeout", `no answer within ${timeoutMs} ms`);
        if (outcome.ok) {
          bound = outcome.bound;
          continue;
        }
        if (outcome.kind !== "refused") return fail(hop, outcome.kind, outcome.detail);
        if (!lastHop)
          return fail(hop + 1, "unreachable", `hop ${hop + 1} answered ${outcome.detail}`);
        return { ok: false, failure: null, reply: outcome.reply, detail: outcome.detail };
      }
      handedOver = true;
      return { ok: true, socket: io.release(), bound };
    } finally {
      clearTimeout(budget);
      if (!handedOver) socket.destroy();
    }
  }

  /** A first hop's addresses the egress guard lets the relay connect to. */
  async hopAddresses(
    hop: RouteHop,
  ): Promise<
    | { ok: true; addresses: ResolvedAddress[] }
    | { ok: false; kind: "dns" | "egress_guard"; detail: string }
  > {
    const family = ipFamily(hop.host);
    let candidates: ResolvedAddress[];
    if (family !== 0) {
      candidates = [{ address: hop.host, family }];
    } else {
      const resolved = await this.#options.resolver.resolve(hop.host);
      if (!resolved.ok) return { ok: false, kind: "dns", detail: resolved.code };
      candidates = resolved.addresses;
    }
    const egress = this.#options.egress;
    const allowed = egress
      ? candidates.filter((c) => egress.check(c.address, hop.port) === null)
      : candidates;
    if (allowed.length === 0) {
      return {
        ok: false,
        kind: "egress_guard",
        detail: `${hop.host} is refused by the egress guard`,
      };
    }
    return { ok: true, addresses: allowed };
  }
}

function healthKey(route: Route, chain: number, hop: number): string {
  return `${route.name}\0${chain}\0${hop}\0${hopName(route.chains[chain]!.hops[hop]!)}`;
}
