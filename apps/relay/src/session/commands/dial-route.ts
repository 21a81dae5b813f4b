import type { Route } from "@edgesocks/policy";
import type { HopCommand, HopTarget } from "../../net/hop-handshake";
import type { RouteDialResult } from "../../net/route-dialer";
import type { ClientSession } from "../client-session";

/**
 * Dials `route` for a session's CONNECT or BIND: the record names the chain taken, and a
 * failure logs every hop that failed and refuses the client. Null when the session is over.
 */
export async function dialRoute(
  session: ClientSession,
  route: Route,
  target: HopTarget,
  command: HopCommand,
): Promise<Extract<RouteDialResult, { ok: true }> | null> {
  const { routes, metrics, timeouts, logger } = session.deps;
  session.route = route.name;
  const result = await routes.dial(route, target, {
    timeoutMs: timeouts.connectMs,
    closed: () => session.closed,
    command,
    client: { address: session.clientAddress, port: session.clientPort },
  });
  if (session.closed) {
    if (result.ok) result.socket.destroy();
    return null;
  }
  if (result.chain !== null) session.route = `${route.name}#${result.chain}`;
  if (result.ok) return result;
  if (result.failures.length > 0) {
    logger.warn(
      { session: session.id, route: route.name, failures: result.failures.map((f) => f.message) },
      "upstream route failed",
    );
  }
  metrics.upstreamErrors.inc({ reply: String(result.reply) });
  session.refuse(result.reply, result.reason, null, "failed");
  return null;
}
