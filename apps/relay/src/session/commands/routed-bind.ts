import type { Socket } from "node:net";
import type { Route } from "@edgesocks/policy";
import { addressFromHost, Reply, type SocksAddress } from "@edgesocks/socks";
import { ipFamily } from "@edgesocks/socks/address";
import { HandshakeIo } from "../../net/handshake-io";
import { type HopOutcome, readSocks4Reply, readSocks5Reply } from "../../net/hop-handshake";
import { chainCanBind } from "../../net/route-dialer";
import type { ClientSession } from "../client-session";
import { dialRoute } from "./dial-route";

/**
 * BIND through the deciding rule's route: the chain's last hop BINDs (earlier hops are CONNECT
 * tunnels, failover as for CONNECT until its first reply). Its first reply (where it listens)
 * is our first reply, its second (the peer that connected to it) our second; then relay.
 */
export async function runRoutedBind(
  session: ClientSession,
  routeName: string,
  target: { address: SocksAddress; port: number },
): Promise<void> {
  const { commands } = session.deps;
  // The snapshot refuses a rule naming a route it does not define.
  const route = session.policy.routes.get(routeName)!;
  session.route = route.name;
  if (!route.chains.some((chain) => chainCanBind(chain.hops))) {
    return session.refuse(
      Reply.CommandNotSupported,
      "route_bind_unsupported:http_last_hop",
      "route_unsupported",
    );
  }
  const result = await dialRoute(session, route, target, "bind");
  if (result === null) return;
  const parent = result.socket;
  session.upstream = parent;
  session.stopHandshakeTimer();
  const lastHop = lastHopOf(route, result.chain);
  session.writeSuccess(boundHost(result.bound.host, lastHop.host), result.bound.port);
  session.client.resume(); // so a client hanging up is noticed while we wait

  const second = await secondReply(parent, lastHop.type, commands.bind.timeoutMs);
  if (session.closed) return;
  if (!second.outcome.ok) {
    if (second.outcome.kind === "refused") {
      return session.refuse(
        second.outcome.reply,
        `route_bind_failed:${second.outcome.detail}`,
        null,
        "failed",
      );
    }
    const reason = second.timedOut ? "bind_timeout" : `route_bind_failed:${second.outcome.kind}`;
    return session.refuse(
      second.timedOut ? Reply.TtlExpired : Reply.GeneralFailure,
      reason,
      second.timedOut ? "bind_timeout" : null,
      "failed",
    );
  }
  const peer = second.outcome.bound;
  session.destinationAddress = session.canonical(peer.host);
  session.client.pause();
  session.writeSuccess(session.destinationAddress, peer.port);
  session.startRelay(second.socket);
  second.socket.resume();
}

function lastHopOf(route: Route, chain: number) {
  const hops = route.chains[chain]!.hops;
  return hops[hops.length - 1]!;
}

/** A hop answering 0.0.0.0 means "my own address" (RFC 1928, SOCKS4 BIND). */
function boundHost(host: string, hopHost: string): string {
  if (host !== "0.0.0.0" && host !== "::") return host;
  return ipFamily(hopHost) !== 0 ? addressFromHost(hopHost).host : host;
}

/** The parent's second BIND reply, within the BIND timeout. */
async function secondReply(
  socket: Socket,
  type: "socks5" | "socks4a" | "http",
  timeoutMs: number,
): Promise<{ outcome: HopOutcome; timedOut: boolean; socket: Socket }> {
  const io = new HandshakeIo(socket);
  socket.resume();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    socket.destroy();
  }, timeoutMs);
  try {
    const outcome = type === "socks4a" ? await readSocks4Reply(io) : await readSocks5Reply(io);
    return { outcome, timedOut, socket: outcome.ok ? io.release() : socket };
  } finally {
    clearTimeout(timer);
  }
}
