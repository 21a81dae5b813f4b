import { addressFromHost, Reply, type SocksAddress } from "@edgesocks/socks";
import { BindListener } from "../../net/bind-listener";
import { normalizeRequestAddress } from "../../net/destination";
import type { ClientSession } from "../client-session";
import { decide, egressRefuses, ipDestination, reachable } from "../destination-decision";
import { runRoutedBind } from "./routed-bind";

/**
 * BIND: listens for the one peer the client named (e.g. an FTP server's data
 * connection): first reply with the listening address, second reply with
 * the peer's address once it connects, then relay.
 */
export async function runBind(
  session: ClientSession,
  requested: SocksAddress,
  port: number,
): Promise<void> {
  const { metrics, commands } = session.deps;
  // Which peers may connect: the named address, every address of a named
  // host, or anyone the ACL allows when the client named 0.0.0.0.
  let expected: Set<string> | null = null;
  const normalized = normalizeRequestAddress(requested);
  if (normalized.ok) {
    const destination = normalized.destination;
    if (destination.kind === "ip") session.destinationAddress = destination.address;
    const verdict = await reachable(session, destination, port, "address");
    if (verdict === null) return;
    if (!verdict.ok) {
      if (verdict.refusal !== "dns_failed") return session.refuseDestination(verdict.refusal);
      return session.refuse(Reply.HostUnreachable, `dns_failed:${verdict.code}`, null, "failed");
    }
    // Through a route the peer connects to the last hop, never to us: the parent's BIND.
    const routeName = session.decision?.rule?.route;
    if (routeName !== undefined) {
      const address =
        verdict.unresolved || destination.kind === "ip"
          ? requested
          : addressFromHost(verdict.addresses[0]!.address);
      return runRoutedBind(session, routeName, { address, port });
    }
    expected = new Set(verdict.addresses.map((a) => a.address));
  } else if (normalized.reason !== "unspecified") {
    return session.refuse(Reply.HostUnreachable, `bad_destination:${normalized.reason}`, null);
  }

  const listener = await BindListener.open(commands.bind.externalAddress ?? session.localAddress());
  if (session.closed) return listener.close();
  session.bindListener = listener;
  session.stopHandshakeTimer();
  const bound = listener.address();
  session.writeSuccess(bound.address, bound.port);
  session.client.resume(); // so a client hanging up is noticed while we wait

  const outcome = await listener.waitForPeer({
    timeoutMs: commands.bind.timeoutMs,
    accept: (peer) => {
      const address = session.canonical(peer.address);
      if (egressRefuses(session, address, peer.port, "address")) return false;
      if (expected) return expected.has(address);
      const decision = decide(session, ipDestination(address), address, peer.port);
      // A routed rule never lets a peer in directly.
      return decision.action === "allow" && decision.rule?.route === undefined;
    },
    onRefused: () => metrics.bindRefusedPeers.inc(),
  });
  session.bindListener = null;
  if (session.closed) {
    if (outcome.ok) outcome.socket.destroy();
    return;
  }
  if (!outcome.ok)
    return session.refuse(Reply.TtlExpired, "bind_timeout", "bind_timeout", "failed");
  const peer = outcome.socket;
  session.upstream = peer;
  session.destinationAddress = session.canonical(peer.remoteAddress ?? "");
  session.client.pause();
  session.writeSuccess(session.destinationAddress, peer.remotePort ?? 0);
  session.startRelay(peer);
  peer.resume();
}
