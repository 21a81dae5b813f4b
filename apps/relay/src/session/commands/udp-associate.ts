import { Reply, type SocksAddress } from "@edgesocks/socks";
import { normalizeRequestAddress } from "../../net/destination";
import type { ClientSession } from "../client-session";
import {
  decide,
  decidedByName,
  egressRefuses,
  evaluateDestination,
  ipDestination,
} from "../destination-decision";
import { SessionRoutedDatagrams, udpHop } from "../routed-udp";
import { type DatagramPolicy, type DatagramVerdict, UdpAssociation } from "../udp-association";

/**
 * UDP ASSOCIATE: opens the association's UDP socket on the address the client
 * reached and keeps it for as long as this TCP connection lives.
 */
export async function runUdpAssociate(
  session: ClientSession,
  requested: SocksAddress,
  port: number,
): Promise<void> {
  const { commands, metrics, resolver } = session.deps;
  // The client may name the address/port it will send from; 0.0.0.0 or
  // port 0 means "not known yet": its TCP address, any port.
  const named = normalizeRequestAddress(requested);
  const clientAddress =
    named.ok && named.destination.kind === "ip"
      ? named.destination.address
      : session.canonical(session.clientAddress);
  const association = await UdpAssociation.open({
    bindAddress: session.localAddress(),
    portRange: commands.udp.portRange,
    clientAddress,
    clientPort: port,
    idleTimeoutMs: commands.udp.idleTimeoutMs,
    maxDatagramBytes: commands.udp.maxDatagramBytes,
    policy: new SessionDatagramPolicy(session),
    routed: new SessionRoutedDatagrams(session),
    resolver,
    metrics,
    counters: session,
    onEnd: (reason) => session.close(reason),
  }).catch((error: NodeJS.ErrnoException) => {
    session.refuse(
      Reply.GeneralFailure,
      `udp_bind_failed:${error.code ?? "EUNKNOWN"}`,
      null,
      "failed",
    );
    return null;
  });
  if (!association) return;
  if (session.closed) return association.close();
  session.udp = association;
  session.destinationHost = null;
  session.destinationPort = null;
  session.stopHandshakeTimer();
  const bound = association.address();
  session.writeSuccess(commands.udp.publicAddress ?? bound.address, bound.port);
  session.enterRelaying();
  // The TCP connection only carries the association's life: anything the
  // client sends on it is read and discarded, its close ends the association.
  const client = session.client;
  client.on("data", () => {});
  client.on("end", () => session.close("client_closed"));
  client.on("error", (error: NodeJS.ErrnoException) =>
    session.close(`client_error:${error.code ?? "EUNKNOWN"}`),
  );
  client.on("close", () => session.close("client_closed"));
  client.resume();
}

/** Each datagram's destination, decided for the session (the last one stands in its record). */
class SessionDatagramPolicy implements DatagramPolicy {
  constructor(readonly session: ClientSession) {}

  decide(name: string, address: string, port: number): DatagramVerdict {
    const { session } = this;
    session.destinationHost = name;
    session.destinationAddress = address;
    session.destinationPort = port;
    const destination =
      name === address ? ipDestination(address) : { kind: "domain" as const, host: name };
    const decision = decide(session, destination, address, port, "udp");
    if (decision.action !== "allow") return { action: "drop", reason: "acl" };
    const routeName = decision.rule?.route;
    if (routeName === undefined) return { action: "direct" };
    // UDP crosses one SOCKS5 parent only; never sent directly instead.
    const route = session.policy.routes.get(routeName);
    if (!route || udpHop(route) === null) {
      session.route = routeName;
      return { action: "drop", reason: "route_udp_unsupported" };
    }
    return { action: "route", route: routeName };
  }

  decideByName(name: string, port: number): DatagramVerdict | null {
    const { session } = this;
    const destination = { kind: "domain" as const, host: name };
    const byName = evaluateDestination(session, destination, undefined, port, "udp");
    const routeName = byName.action === "allow" ? byName.rule?.route : undefined;
    if (routeName === undefined) return null;
    const route = session.policy.routes.get(routeName);
    if (route?.resolve !== "remote") return null;
    session.destinationHost = name;
    session.destinationAddress = null;
    session.destinationPort = port;
    // Never resolved here: a block rule on addresses that could apply drops it (fail closed).
    const decided = decidedByName(session, destination, port, byName, "udp");
    if (!decided.ok) return { action: "drop", reason: "acl" };
    if (udpHop(route) === null) {
      session.route = routeName;
      return { action: "drop", reason: "route_udp_unsupported" };
    }
    return { action: "route", route: routeName };
  }

  egressRefuses(address: string, port: number): boolean {
    return egressRefuses(this.session, address, port);
  }
}
