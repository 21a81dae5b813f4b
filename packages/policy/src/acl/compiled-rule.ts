import type { AclRule } from "../snapshot";
import { type Destination, parseDestination } from "./destination";
import { compilePorts, type PortSet, parsePortSpec, portMatches } from "./ports";
import type { Decision } from "./types";

export const PROTOCOL_TCP = 1;
export const PROTOCOL_UDP = 2;

/**
 * A rule ready for matching. `rank` is its place in evaluation order across the whole snapshot
 * (block before allow, then higher priority, then earlier in the snapshot), so the winner among
 * any set of matching rules is simply the one with the lowest rank.
 */
export class CompiledRule {
  constructor(
    readonly rank: number,
    readonly rule: AclRule,
    readonly destinations: readonly Destination[],
    readonly ports: PortSet,
    /** Bit set of PROTOCOL_TCP / PROTOCOL_UDP. */
    readonly protocols: number,
    readonly decision: Decision,
  ) {}

  /** Port and protocol part of a match; the destination is matched by the caller. */
  accepts(port: number, protocol: number): boolean {
    return (this.protocols & protocol) !== 0 && portMatches(this.ports, port);
  }
}

export function protocolBits(protocols: readonly ("tcp" | "udp" | "both")[]): number {
  let bits = 0;
  for (const p of protocols) {
    if (p === "tcp") bits |= PROTOCOL_TCP;
    else if (p === "udp") bits |= PROTOCOL_UDP;
    else bits |= PROTOCOL_TCP | PROTOCOL_UDP;
  }
  return bits;
}

/** Evaluation order: block first, then higher priority, then snapshot order. */
export function compareRules(
  a: { rule: AclRule; index: number },
  b: { rule: AclRule; index: number },
): number {
  if (a.rule.action !== b.rule.action) return a.rule.action === "block" ? -1 : 1;
  if (a.rule.priority !== b.rule.priority) return b.rule.priority - a.rule.priority;
  return a.index - b.index;
}

export function ruleReason(rule: AclRule): string {
  const description = rule.description ? ` ${JSON.stringify(rule.description)}` : "";
  return `rule ${rule.id}${description} (${rule.owner.kind} ${rule.owner.name})`;
}

/** Parses a rule's destinations and ports; `fail` is called (and must throw) with the first error. */
export function parseRuleParts(
  rule: AclRule,
  fail: (field: string, message: string) => never,
): { destinations: Destination[]; ports: PortSet } {
  const destinations = rule.destinations.map((pattern, i) => {
    const parsed = parseDestination(pattern);
    return parsed.ok ? parsed.destination : fail(`destinations[${i}]`, parsed.error);
  });
  rule.ports.forEach((spec, i) => {
    const parsed = parsePortSpec(spec);
    if (!parsed.ok) fail(`ports[${i}]`, parsed.error);
  });
  return { destinations, ports: compilePorts(rule.ports) };
}
