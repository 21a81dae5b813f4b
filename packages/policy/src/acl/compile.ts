import { PolicyError } from "../errors";
import type { AclRule, PolicySnapshot } from "../snapshot";
import {
  CompiledRule,
  compareRules,
  parseRuleParts,
  protocolBits,
  ruleReason,
} from "./compiled-rule";
import { EMPTY_INDEX, PrincipalIndex } from "./principal-index";
import type { AclAction, Decision } from "./types";

export const ACL_DISABLED: Decision = Object.freeze({
  action: "allow",
  ruleId: null,
  rule: null,
  reason: "acl disabled",
});

/**
 * The ACL of one snapshot, ready for evaluate(). Immutable from the outside; per-user indexes are
 * built on first use and cached here, so they are dropped together with the snapshot.
 */
export class CompiledAcl {
  readonly version: number;
  readonly enabled: boolean;
  readonly defaultPolicy: AclAction;
  /** The decision when no rule matches. */
  readonly defaultDecision: Decision;
  /** Every rule, in evaluation order (index = rank). */
  readonly ranked: readonly CompiledRule[];
  /** Every country a rule names (destinations and sources): the bounded set metrics label by. */
  readonly countries: ReadonlySet<string>;
  /** True when some rule names a country, so a relay needs its GeoIP database. */
  readonly usesCountries: boolean;
  readonly #byId = new Map<string, CompiledRule>();
  readonly #byUser = new Map<string, CompiledRule[]>();
  readonly #byGroup = new Map<string, CompiledRule[]>();
  readonly #groupsOf = new Map<string, readonly string[]>();
  readonly #indexes = new Map<string, PrincipalIndex>();
  /** Indexes shared by users that have no rules of their own, keyed by their group set. */
  readonly #byGroupSet = new Map<string, PrincipalIndex>();
  /** Every group the policy names (declared or owning rules), by lower-cased name. */
  readonly #groupNames = new Map<string, string>();

  constructor(snapshot: PolicySnapshot) {
    this.version = snapshot.version;
    this.enabled = snapshot.acl.enabled;
    this.defaultPolicy = snapshot.acl.defaultPolicy;
    this.defaultDecision = Object.freeze({
      action: snapshot.acl.defaultPolicy,
      ruleId: null,
      rule: null,
      reason: `default policy ${snapshot.acl.defaultPolicy}`,
    });
    for (const user of snapshot.users) this.#groupsOf.set(user.username, [...new Set(user.groups)]);
    for (const group of snapshot.groups) this.#groupNames.set(group.name.toLowerCase(), group.name);
    for (const rule of snapshot.rules) {
      if (rule.owner.kind === "group" && !this.#groupNames.has(rule.owner.name.toLowerCase()))
        this.#groupNames.set(rule.owner.name.toLowerCase(), rule.owner.name);
    }

    const order = snapshot.rules.map((rule, index) => ({ rule, index })).sort(compareRules);
    this.ranked = Object.freeze(
      order.map(({ rule, index }, rank) => {
        const compiled = compileRule(rule, index, rank);
        this.#byId.set(rule.id, compiled);
        const owners = rule.owner.kind === "user" ? this.#byUser : this.#byGroup;
        const list = owners.get(rule.owner.name);
        if (list) list.push(compiled);
        else owners.set(rule.owner.name, [compiled]);
        return compiled;
      }),
    );
    const countries = new Set<string>();
    for (const rule of this.ranked) {
      for (const d of [...rule.destinations, ...(rule.conditions?.sources ?? [])]) {
        if (d.kind === "country") countries.add(d.code);
      }
    }
    this.countries = countries;
    this.usesCountries = countries.size > 0;
    Object.freeze(this);
  }

  /**
   * When a session this decision allowed must close: the end of the deciding rule's window if the
   * rule has `closeAtWindowEnd`, else null.
   */
  windowEnd(decision: Decision, nowMs: number): number | null {
    if (decision.action !== "allow" || decision.ruleId === null) return null;
    const rule = this.#byId.get(decision.ruleId);
    const schedule = rule?.conditions?.schedule;
    if (!rule?.rule.closeAtWindowEnd || !schedule) return null;
    return schedule.nextBoundary(nowMs);
  }

  /**
   * The index of the rules that apply to `user`, built on first use. Names the snapshot knows
   * nothing about share one empty index, so arbitrary usernames cannot grow the cache.
   */
  indexFor(user: string, extraGroups?: readonly string[]): PrincipalIndex {
    if (extraGroups && extraGroups.length > 0) return this.#indexWith(user, extraGroups);
    const cached = this.#indexes.get(user);
    if (cached) return cached;
    const own = this.#byUser.get(user);
    const groups = this.#groupsOf.get(user);
    if (!own && !groups) return EMPTY_INDEX;
    let index: PrincipalIndex;
    if (own) {
      index = new PrincipalIndex(this.#collect(own, groups ?? []));
    } else {
      const key = [...(groups ?? [])].sort().join("\n");
      index = this.#byGroupSet.get(key) ?? new PrincipalIndex(this.#collect([], groups ?? []));
      this.#byGroupSet.set(key, index);
    }
    this.#indexes.set(user, index);
    return index;
  }

  /**
   * The policy's own spelling of each directory group it defines, matched case-insensitively
   * ("domain users" is the policy's "Domain Users"); groups the policy does not name are dropped,
   * so a directory's thousands of groups cannot grow any index.
   */
  policyGroups(names: readonly string[]): string[] {
    const found = new Set<string>();
    for (const name of names) {
      const known = this.#groupNames.get(name.toLowerCase());
      if (known !== undefined) found.add(known);
    }
    return [...found];
  }

  /** A user's index with directory groups added; cached per user and group set. */
  #indexWith(user: string, extraGroups: readonly string[]): PrincipalIndex {
    const groups = [...new Set([...(this.#groupsOf.get(user) ?? []), ...extraGroups])].sort();
    const own = this.#byUser.get(user);
    // Only users the snapshot names get their own entry; any other name shares its group set's.
    const key = own ? `${user}\0${groups.join("\n")}` : groups.join("\n");
    const cache = own ? this.#indexes : this.#byGroupSet;
    let index = cache.get(key);
    if (!index) {
      index = new PrincipalIndex(this.#collect(own ?? [], groups));
      cache.set(key, index);
    }
    return index;
  }

  #collect(own: readonly CompiledRule[], groups: readonly string[]): CompiledRule[] {
    const rules = [...own];
    for (const group of groups) rules.push(...(this.#byGroup.get(group) ?? []));
    return rules.sort((a, b) => a.rank - b.rank);
  }
}

function compileRule(rule: AclRule, index: number, rank: number): CompiledRule {
  const { destinations, ports, conditions } = parseRuleParts(rule, (field, message) => {
    throw new PolicyError("POLICY_E_INVALID", message, { path: `rules[${index}].${field}` });
  });
  const decision: Decision = Object.freeze({
    action: rule.action,
    ruleId: rule.id,
    rule,
    reason: ruleReason(rule),
  });
  return new CompiledRule(
    rank,
    rule,
    Object.freeze(destinations),
    ports,
    protocolBits(rule.protocols),
    decision,
    conditions,
  );
}

/**
 * Compiles the ACL of a validated snapshot. Throws PolicyError (POLICY_E_INVALID) naming the path
 * of a bad destination or port spec; validateSnapshot() reports the same problems first.
 */
export function compileAcl(snapshot: PolicySnapshot): CompiledAcl {
  return new CompiledAcl(snapshot);
}
