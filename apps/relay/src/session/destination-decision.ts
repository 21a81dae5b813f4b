import {
  type CountryLookup,
  type Decision,
  evaluate,
  unresolvedAddressBlock,
} from "@edgesocks/policy";
import type { BoundedLabel, RelayMetrics } from "../metrics";
import { type Destination, isIpv6Address, normalizeDestination } from "../net/destination";
import type { EgressGuard } from "../net/egress-guard";
import type { ResolvedAddress, Resolver } from "../net/resolver";
import type { CompiledPolicy } from "../policy/compiled-policy";

/**
 * Where a destination is decided, for every command: the ACL (by name, then by
 * each address the name resolves to) and the egress guard. New rule kinds
 * (GeoIP, time windows) go into the ACL evaluation here and nowhere else.
 */

/** What a decision needs of its session: who asks, under which policy, and where the verdict goes. */
export interface DecidingSession {
  readonly user: string;
  /** Groups from the system beside the policy's own (auth.group_source = "nss"). */
  readonly groups?: readonly string[] | undefined;
  /** The client's IP, for rules with `sources`. */
  readonly clientAddress: string;
  readonly policy: CompiledPolicy;
  decision: Decision | null;
  /**
   * The session's own GeoIP lookup (each address looked up once, the record reuses what the
   * decision found); unset: no database loaded.
   */
  readonly countryOf?: CountryLookup | undefined;
  readonly deps: {
    metrics: RelayMetrics;
    resolver: Resolver;
    egress?: EgressGuard | undefined;
    /** Bounds the `rule` label of the ACL decision metric. */
    ruleLabel: BoundedLabel;
    /** The GeoIP lookup for `country:XX` rules; unset: no database loaded. */
    countryOf?: CountryLookup | undefined;
  };
}

/** What a TCP command may reach: the allowed addresses, or why not. */
export type Reachable =
  /**
   * `unresolved`: the deciding rule's route resolves remotely, so the name was decided by name
   * alone and never resolved here (`addresses` is empty).
   */
  | { ok: true; addresses: ResolvedAddress[]; unresolved?: true }
  | { ok: false; refusal: "acl" | "acl_unresolved" | "egress_guard" }
  | { ok: false; refusal: "dns_failed"; code: string };

/**
 * CONNECT checks the egress guard on address and port; a BIND peer is checked
 * on its address only (its port is its own).
 */
export type EgressCheck = "address-and-port" | "address";

/** Evaluates without recording: a request by name takes several evaluations but one decision. */
export function evaluateDestination(
  session: DecidingSession,
  destination: Destination,
  address: string | undefined,
  port: number,
  protocol: "tcp" | "udp" = "tcp",
): Decision {
  return evaluate(session.policy.acl, {
    user: session.user,
    host: destination.host,
    ...(address !== undefined ? { address } : {}),
    port,
    protocol,
    groups: session.groups,
    client: session.clientAddress,
    now: Date.now(),
    countryOf: session.countryOf,
  });
}

/**
 * The decision this request stands on: kept for the session record and counted once; with a
 * GeoIP database, also by the country of the address it was made for (`address`).
 */
export function settle(session: DecidingSession, decision: Decision, address?: string): Decision {
  session.decision = decision;
  session.deps.metrics.aclDecisions.inc({
    action: decision.action,
    rule: session.deps.ruleLabel.of(decision.ruleId ?? "default"),
  });
  if (address !== undefined && session.countryOf !== undefined) {
    session.deps.metrics.countryDecisions.inc({
      action: decision.action,
      country: countryLabel(session.policy.acl.countries, session.countryOf(address)),
    });
  }
  return decision;
}

/**
 * A bounded label: countries the policy names keep their code, the rest are "other"; an address
 * the database does not place is "unknown".
 */
export function countryLabel(named: ReadonlySet<string>, code: string | null): string {
  if (code === null) return "unknown";
  return named.has(code) ? code : "other";
}

/** Evaluates and settles in one step (one evaluation stands for the request). */
export function decide(
  session: DecidingSession,
  destination: Destination,
  address: string | undefined,
  port: number,
  protocol: "tcp" | "udp" = "tcp",
): Decision {
  return settle(
    session,
    evaluateDestination(session, destination, address, port, protocol),
    address,
  );
}

/** The egress guard refuses some destinations whatever the ACL allowed. */
export function egressRefuses(
  session: DecidingSession,
  address: string,
  port: number,
  check: EgressCheck = "address-and-port",
): boolean {
  const egress = session.deps.egress;
  if (!egress) return false;
  return check === "address" ? egress.blocksPeer(address) : egress.check(address, port) !== null;
}

/** An IP literal as a destination (a BIND peer, a UDP datagram's address). */
export function ipDestination(address: string): Destination {
  return { kind: "ip", host: address, address, family: isIpv6Address(address) ? 6 : 4 };
}

/**
 * The addresses a TCP request may reach. An IP literal is decided once. A name
 * is decided by name first, so a blocked name is never even resolved, then by
 * every address it resolved to, so a name cannot smuggle a blocked address
 * past the IP rules. Null: the session closed while the name was resolving.
 */
export async function reachable(
  session: DecidingSession & { readonly closed: boolean },
  destination: Destination,
  port: number,
  check: EgressCheck,
): Promise<Reachable | null> {
  if (destination.kind === "ip") {
    const decision = decide(session, destination, destination.address, port);
    if (decision.action === "block") return { ok: false, refusal: "acl" };
    if (egressRefuses(session, destination.address, port, check))
      return { ok: false, refusal: "egress_guard" };
    return { ok: true, addresses: [{ address: destination.address, family: destination.family }] };
  }
  const byName = evaluateDestination(session, destination, undefined, port);
  // Only a rule is final before DNS: a default-policy block may still be
  // lifted by an allow rule for the address the name resolves to.
  if (byName.action === "block" && byName.ruleId !== null) {
    settle(session, byName);
    return { ok: false, refusal: "acl" };
  }
  const routeName = byName.rule?.route;
  if (routeName !== undefined && session.policy.routes.get(routeName)?.resolve === "remote") {
    return decidedByName(session, destination, port, byName);
  }
  const resolved = await session.deps.resolver.resolve(destination.host);
  if (session.closed) return null;
  if (!resolved.ok) return { ok: false, refusal: "dns_failed", code: resolved.code };
  const addresses: ResolvedAddress[] = [];
  let guarded = 0;
  let allowed: Decision | undefined;
  let blocked: Decision = byName;
  let blockedAddress: string | undefined;
  let allowedAddress: string | undefined;
  for (const candidate of resolved.addresses) {
    const mapped = normalizeDestination(candidate.address);
    if (!mapped.ok || mapped.destination.kind !== "ip") continue;
    const address = mapped.destination.address;
    const decision = evaluateDestination(session, destination, address, port);
    if (decision.action === "block") {
      blocked = decision;
      blockedAddress = address;
      continue;
    }
    if (egressRefuses(session, address, port, check)) {
      guarded += 1;
      continue;
    }
    if (allowed === undefined) {
      allowed = decision;
      allowedAddress = address;
    }
    addresses.push({ address, family: mapped.destination.family });
  }
  if (addresses.length === 0) {
    settle(session, blocked, blockedAddress);
    return { ok: false, refusal: guarded > 0 ? "egress_guard" : "acl" };
  }
  settle(session, allowed!, allowedAddress);
  return { ok: true, addresses };
}

/**
 * A name allowed by a rule whose route resolves remotely: the relay never learns its address, so
 * a block rule on addresses that could apply refuses it (fail closed; see unresolvedAddressBlock).
 */
export function decidedByName(
  session: DecidingSession,
  destination: Destination,
  port: number,
  byName: Decision,
  protocol: "tcp" | "udp" = "tcp",
): Reachable {
  const blocked = unresolvedAddressBlock(session.policy.acl, {
    user: session.user,
    host: destination.host,
    port,
    protocol,
    groups: session.groups,
    client: session.clientAddress,
    now: Date.now(),
    countryOf: session.deps.countryOf,
  });
  if (blocked !== null) {
    settle(session, blocked);
    return { ok: false, refusal: "acl_unresolved" };
  }
  settle(session, byName);
  return { ok: true, addresses: [], unresolved: true };
}
