import type { Rule, RuleCreateInput } from "./api-types";
import {
  destinationError,
  portSpecError,
  priorityError,
  ruleIdError,
  scheduleError,
  sourceError,
  splitList,
} from "./validate";

export type Protocol = "tcp" | "udp" | "both";

/** The rule editor's fields as the operator types them. */
export interface RuleDraft {
  id: string;
  ownerKind: "user" | "group";
  ownerName: string;
  action: "allow" | "block";
  description: string;
  /** Destinations separated by commas, spaces or new lines. */
  destinations: string;
  /** Port specs separated by commas, spaces or new lines. */
  ports: string;
  protocol: Protocol;
  priority: string;
  /** Client IPs, CIDRs or country:XX; empty: every client. */
  sources: string;
  /** Days of the window (`mon-fri, sun`); empty: every day. */
  days: string;
  /** Time windows (`09:00-17:30, 22:00-06:00`); empty: the whole day. */
  times: string;
  /** IANA time zone; empty: UTC. */
  timezone: string;
  closeAtWindowEnd: boolean;
  /** The upstream route's name; "" for a direct connection. */
  route: string;
}

export type RuleField = keyof RuleDraft;
export type RuleErrors = Partial<Record<RuleField, string>>;

export function emptyRuleDraft(owner?: { kind: "user" | "group"; name: string }): RuleDraft {
  return {
    id: "",
    ownerKind: owner?.kind ?? "user",
    ownerName: owner?.name ?? "",
    action: "allow",
    description: "",
    destinations: "",
    ports: "*",
    protocol: "both",
    priority: "100",
    sources: "",
    days: "",
    times: "",
    timezone: "",
    closeAtWindowEnd: false,
    route: "",
  };
}

/** A stored rule as an editor draft. */
export function draftFromRule(rule: Rule): RuleDraft {
  return {
    id: rule.id,
    ownerKind: rule.owner.kind,
    ownerName: rule.owner.name,
    action: rule.action,
    description: rule.description ?? "",
    destinations: rule.destinations.join(", "),
    ports: rule.ports.join(", "),
    protocol: rule.protocols.includes("both")
      ? "both"
      : rule.protocols.includes("tcp") && rule.protocols.includes("udp")
        ? "both"
        : (rule.protocols[0] ?? "both"),
    priority: String(rule.priority),
    sources: (rule.sources ?? []).join(", "),
    days: (rule.schedule?.days ?? []).join(", "),
    times: (rule.schedule?.times ?? []).join(", "),
    timezone: rule.schedule?.timezone ?? "",
    closeAtWindowEnd: rule.closeAtWindowEnd,
    route: rule.route ?? "",
  };
}

type Schedule = NonNullable<RuleCreateInput["schedule"]>;

/** The draft's window; null when days, times and zone are all empty (the rule always applies). */
export function scheduleFromDraft(draft: RuleDraft): Schedule | null {
  const days = splitList(draft.days);
  const times = splitList(draft.times);
  const timezone = draft.timezone.trim();
  if (days.length === 0 && times.length === 0 && timezone === "") return null;
  return {
    ...(days.length > 0 ? { days } : {}),
    ...(times.length > 0 ? { times } : {}),
    ...(timezone === "" ? {} : { timezone }),
  };
}

/** `mon-fri 09:00-17:00 (Europe/Berlin)`, for the rules list; null when the rule always applies. */
export function scheduleSummary(schedule: Rule["schedule"]): string | null {
  if (schedule === null) return null;
  const days = schedule.days?.join(", ") ?? "every day";
  const times = schedule.times?.join(", ") ?? "all day";
  return `${days} ${times} (${schedule.timezone ?? "UTC"})`;
}

function listError(
  items: string[],
  what: string,
  check: (item: string) => string | null,
): string | null {
  if (items.length === 0) return `add at least one ${what}`;
  for (const item of items) {
    const error = check(item);
    if (error !== null) return error;
  }
  return null;
}

/** Validates one field; the message is shown next to it. */
export function ruleFieldError(draft: RuleDraft, field: RuleField): string | null {
  switch (field) {
    case "id":
      return ruleIdError(draft.id.trim());
    case "ownerName":
      return draft.ownerName.trim() === "" ? `choose a ${draft.ownerKind}` : null;
    case "destinations":
      return listError(splitList(draft.destinations), "destination", destinationError);
    case "ports":
      return listError(splitList(draft.ports), "port", portSpecError);
    case "priority":
      return priorityError(draft.priority);
    case "description":
      return draft.description.length > 1000 ? "at most 1000 characters" : null;
    case "sources": {
      const sources = splitList(draft.sources);
      return sources.length === 0 ? null : listError(sources, "source", sourceError);
    }
    // Each part checked alone, so the message shows at the field it is about.
    case "days": {
      const days = splitList(draft.days);
      return days.length === 0 ? null : scheduleError({ days });
    }
    case "times": {
      const times = splitList(draft.times);
      return times.length === 0 ? null : scheduleError({ times });
    }
    case "timezone": {
      const timezone = draft.timezone.trim();
      return timezone === "" ? null : scheduleError({ timezone });
    }
    case "closeAtWindowEnd":
      return draft.closeAtWindowEnd && scheduleFromDraft(draft) === null
        ? "needs a window: set days, times or a time zone"
        : null;
    default:
      return null;
  }
}

const FIELDS: RuleField[] = [
  "id",
  "ownerName",
  "destinations",
  "ports",
  "priority",
  "description",
  "sources",
  "days",
  "times",
  "timezone",
  "closeAtWindowEnd",
];

/** Every field's error; empty when the draft can be saved. */
export function validateRuleDraft(draft: RuleDraft): RuleErrors {
  const errors: RuleErrors = {};
  for (const field of FIELDS) {
    const error = ruleFieldError(draft, field);
    if (error !== null) errors[field] = error;
  }
  return errors;
}

/** The rules.create input of a valid draft. */
export function ruleInputFromDraft(draft: RuleDraft): RuleCreateInput {
  const id = draft.id.trim();
  const description = draft.description.trim();
  const sources = splitList(draft.sources);
  return {
    ...(id === "" ? {} : { id }),
    owner: { kind: draft.ownerKind, name: draft.ownerName.trim() },
    action: draft.action,
    description: description === "" ? null : description,
    destinations: splitList(draft.destinations),
    ports: splitList(draft.ports),
    protocols: [draft.protocol],
    priority: Number(draft.priority.trim()),
    sources: sources.length === 0 ? null : sources,
    schedule: scheduleFromDraft(draft),
    closeAtWindowEnd: draft.closeAtWindowEnd,
    route: draft.route.trim() === "" ? null : draft.route.trim(),
  };
}

/**
 * Rules in the order the engine considers them for one principal: block before allow, then
 * higher priority, then list position. Matches "a matching block wins; among the same action,
 * higher priority first" of DESIGN.md.
 */
export function evaluationOrder<T extends Pick<Rule, "action" | "priority" | "position">>(
  rules: readonly T[],
): T[] {
  return [...rules].sort(
    (a, b) =>
      (a.action === b.action ? 0 : a.action === "block" ? -1 : 1) ||
      b.priority - a.priority ||
      a.position - b.position,
  );
}
