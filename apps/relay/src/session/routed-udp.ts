import type { Route } from "@edgesocks/policy";
import { addressFromHost } from "@edgesocks/socks";
import { ParentUdp, type Socks5Hop } from "../net/parent-udp";
import type { ClientSession } from "./client-session";
import type { RoutedDatagrams } from "./udp-association";

/** Datagrams held per route while its parent association opens; more are dropped. */
const MAX_PENDING_DATAGRAMS = 64;

/** The one SOCKS5 hop a route must consist of to carry UDP; null: it cannot. */
export function udpHop(route: Route): Socks5Hop | null {
  if (route.chains.length !== 1) return null;
  const hops = route.chains[0]!.hops;
  const hop = hops[0]!;
  return hops.length === 1 && hop.type === "socks5" ? hop : null;
}

type Entry = { parent: ParentUdp | null; pending: (() => void)[] };

/**
 * A client association's datagrams through routes: one UDP ASSOCIATE with each route's parent,
 * opened on the first datagram and dropped when the parent's control connection closes (the
 * next datagram opens it again).
 */
export class SessionRoutedDatagrams implements RoutedDatagrams {
  readonly #entries = new Map<string, Entry>();
  #closed = false;

  constructor(readonly session: ClientSession) {}

  send(options: Parameters<RoutedDatagrams["send"]>[0]): void {
    const { session } = this;
    const { metrics } = session.deps;
    const route = session.policy.routes.get(options.route);
    const hop = route ? udpHop(route) : null;
    if (!route || !hop) {
      metrics.udpDatagrams.inc({ direction: "dropped", reason: "route_udp_unsupported" });
      return;
    }
    const target =
      options.address === "" || (route.resolve === "remote" && options.host !== options.address)
        ? { type: "domain" as const, host: options.host }
        : addressFromHost(options.address);
    const forward = (parent: ParentUdp) => parent.send(target, options.port, options.payload);
    let entry = this.#entries.get(route.name);
    if (entry?.parent) return forward(entry.parent);
    if (entry) {
      if (entry.pending.length >= MAX_PENDING_DATAGRAMS) {
        metrics.udpDatagrams.inc({ direction: "dropped", reason: "route_backlog" });
        return;
      }
      entry.pending.push(() => entry!.parent && forward(entry!.parent));
      return;
    }
    entry = { parent: null, pending: [() => entry!.parent && forward(entry!.parent)] };
    this.#entries.set(route.name, entry);
    void this.#open(route, hop, entry, options.deliver);
  }

  close(): void {
    this.#closed = true;
    for (const entry of this.#entries.values()) entry.parent?.close();
    this.#entries.clear();
  }

  async #open(
    route: Route,
    hop: Socks5Hop,
    entry: Entry,
    deliver: Parameters<RoutedDatagrams["send"]>[0]["deliver"],
  ): Promise<void> {
    const { routes, metrics, timeouts, logger } = this.session.deps;
    const forget = () => {
      if (this.#entries.get(route.name) === entry) this.#entries.delete(route.name);
    };
    const labels = routes.labels(route.name, hop);
    const fail = (kind: string, detail: string) => {
      forget();
      metrics.routeConnections.inc({ route: labels.route, result: "failed" });
      metrics.routeHopFailures.inc(labels);
      metrics.udpDatagrams.inc(
        { direction: "dropped", reason: "route_failed" },
        entry.pending.length,
      );
      logger.warn(
        { session: this.session.id, route: route.name, failure: `${kind} (${detail})` },
        "upstream route UDP association failed",
      );
    };
    this.session.route = `${route.name}#0`;
    const addresses = await routes.hopAddresses(hop);
    if (this.#closed) return;
    if (!addresses.ok) return fail(addresses.kind, addresses.detail);
    const opened = await ParentUdp.open({
      hop,
      addresses: addresses.addresses,
      timeoutMs: timeouts.connectMs,
      onReply: (address, port, payload) => deliver(address.host, port, payload),
      onClose: forget,
      ...(route.chains[0]!.proxyProtocol ? { proxyProtocol: route.chains[0]!.proxyProtocol } : {}),
      client: { address: this.session.clientAddress, port: this.session.clientPort },
    });
    if (this.#closed) {
      if (opened.ok) opened.parent.close();
      return;
    }
    if (!opened.ok) return fail(opened.kind, opened.detail);
    metrics.routeConnections.inc({ route: labels.route, result: "ok" });
    entry.parent = opened.parent;
    for (const send of entry.pending) send();
    entry.pending = [];
  }
}
