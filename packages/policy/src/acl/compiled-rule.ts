import type { AclRule } from "../snapshot";
import { type EvalContext, parseSource, RuleConditions, type Source } from "./conditions";
import { type Destination, parseDestination } from "./destination";
import { compilePorts, type PortSet, parsePortSpec, portMatches } from "./ports";
import { CompiledSchedule, parseSchedule } from "./schedule";
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
    /** Schedule and sources; null for a plain rule. */
    readonly conditions: RuleConditions | null = null,
  ) {}

  /**
   * Port, protocol, schedule and source part of a match; the destination is matched by the
   * caller. `ctx` is only read when the rule has conditions.
   */
  accepts(port: number, protocol: number, ctx: EvalContext): boolean {
    return (
      (this.protocols & protocol) !== 0 &&
      portMatches(this.ports, port) &&
      (this.conditions === null || this.conditions.holds(ctx))
    );
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

/**
 * Parses a rule's destinations, ports, sources and schedule; `fail` is called (and must throw)
 * with the first error.
 */
export function parseRuleParts(
  rule: AclRule,
  fail: (field: string, message: string) => never,
): { destinations: Destination[]; ports: PortSet; conditions: RuleConditions | null } {
  const destinations = rule.destinations.map((pattern, i) => {
    const parsed = parseDestination(pattern);
    return parsed.ok ? parsed.destination : fail(`destinations[${i}]`, parsed.error);
  });
  rule.ports.forEach((spec, i) => {
    const parsed = parsePortSpec(spec);
    if (!parsed.ok) fail(`ports[${i}]`, parsed.error);
  });
  const sources = rule.sources?.map((pattern, i): Source => {
    const parsed = parseSource(pattern);
    return parsed.ok ? parsed.source : fail(`sources[${i}]`, parsed.error);
  });
  let schedule: CompiledSchedule | null = null;
  if (rule.schedule) {
    const parsed = parseSchedule(rule.schedule);
    schedule = parsed.ok
      ? new CompiledSchedule(parsed.schedule)
      : fail(`schedule.${parsed.field}`, parsed.error);
  }
  const conditions =
    schedule !== null || sources !== undefined
      ? new RuleConditions(schedule, sources ?? null)
      : null;
  return { destinations, ports: compilePorts(rule.ports), conditions };
}
