import { addressFromHost, Reply, type SocksAddress } from "@edgesocks/socks";
import { normalizeRequestAddress } from "../../net/destination";
import type { ResolvedAddress } from "../../net/resolver";
import { connectUpstream, type UpstreamResult } from "../../net/upstream";
import type { ClientSession } from "../client-session";
import { type Reachable, reachable } from "../destination-decision";
import { dialRoute } from "./dial-route";

/**
 * CONNECT: decide the destination, reach it, reply with the address the relay
 * connected from, relay. How the destination is reached is `reach()` (a pooled
 * connection or a direct one) or, when the deciding rule names a route, the
 * route's chain of upstream proxies (`runRouted()`).
 */
export async function runConnect(
  session: ClientSession,
  requested: SocksAddress,
  port: number,
): Promise<void> {
  const { metrics } = session.deps;
  const normalized = normalizeRequestAddress(requested);
  if (!normalized.ok) {
    session.refuse(
      Reply.HostUnreachable,
      `bad_destination:${normalized.reason}`,
      `destination_${normalized.reason}`,
    );
    return;
  }
  const destination = normalized.destination;
  if (destination.kind === "ip") session.destinationAddress = destination.address;
  const verdict = await reachable(session, destination, port, "address-and-port");
  if (verdict === null) return;
  if (!verdict.ok) {
    if (verdict.refusal !== "dns_failed") return session.refuseDestination(verdict.refusal);
    metrics.upstreamErrors.inc({ reply: String(Reply.HostUnreachable) });
    return session.refuse(Reply.HostUnreachable, `dns_failed:${verdict.code}`, null, "failed");
  }
  const routeName = session.decision?.rule?.route;
  if (routeName !== undefined)
    return runRouted(session, routeName, destination.host, verdict, port);
  const result = await reach(session, destination.host, verdict.addresses, port);
  if (session.closed) {
    if (result.ok) result.socket.destroy();
    return;
  }
  if (!result.ok) {
    metrics.upstreamErrors.inc({ reply: String(result.reply) });
    session.refuse(result.reply, `connect_failed:${result.code}`, null, "failed");
    return;
  }
  session.destinationAddress = result.address.address;
  session.upstream = result.socket;
  session.writeSuccess(result.socket.localAddress ?? "0.0.0.0", result.socket.localPort ?? 0);
  session.startRelay(result.socket);
}

/** A connection to one of `addresses`: a pooled one (never used before) skips the round trip. */
async function reach(
  session: ClientSession,
  host: string,
  addresses: ResolvedAddress[],
  port: number,
): Promise<UpstreamResult> {
  const { pool, metrics, timeouts } = session.deps;
  const pooled = pool?.take(host, port, addresses);
  if (pooled) return { ok: true, ...pooled, connectMs: 0 };
  const result = await connectUpstream(addresses, { port, timeoutMs: timeouts.connectMs });
  if (result.ok && !session.closed)
    metrics.upstreamConnectDuration.observe(result.connectMs / 1000);
  return result;
}

/**
 * CONNECT through the deciding rule's route: the last hop is asked for the name itself
 * (resolve = "remote") or for the first address the ACL allowed (resolve = "local").
 */
async function runRouted(
  session: ClientSession,
  routeName: string,
  host: string,
  verdict: Reachable & { ok: true },
  port: number,
): Promise<void> {
  // The snapshot refuses a rule naming a route it does not define.
  const route = session.policy.routes.get(routeName)!;
  const address = verdict.unresolved ? undefined : verdict.addresses[0]!.address;
  const target = {
    address: address === undefined ? { type: "domain" as const, host } : addressFromHost(address),
    port,
  };
  const result = await dialRoute(session, route, target, "connect");
  if (result === null) return;
  session.destinationAddress = address ?? null;
  session.upstream = result.socket;
  session.writeSuccess(result.socket.localAddress ?? "0.0.0.0", result.socket.localPort ?? 0);
  session.startRelay(result.socket);
}
