import {
  isRolling,
  type PolicySnapshot,
  type QuotaPeriod,
  quotaSubject,
  ROLLING_BUCKETS,
  rollingBucketMs,
} from "@edgesocks/policy";

/** One quota a session counts against: its user's own, or one of its groups' (shared). */
export interface QuotaRule {
  /** `user:alice` or `group:developers`: the ledger key, the same on every relay. */
  readonly subject: string;
  readonly bytes: number;
  readonly period: QuotaPeriod;
  readonly timeZone: string;
  /** Counts client → destination bytes. */
  readonly up: boolean;
  /** Counts destination → client bytes. */
  readonly down: boolean;
  /** Bytes per second once spent; undefined: close instead. */
  readonly throttleBytesPerSec: number | undefined;
}

/** Every user's quota rules, indexed once per snapshot; users without any are absent. */
export function compileQuotas(snapshot: PolicySnapshot): ReadonlyMap<string, readonly QuotaRule[]> {
  const timeZone = snapshot.quotaTimezone ?? "UTC";
  const rule = (subject: string, quota: NonNullable<PolicySnapshot["users"][number]["quota"]>) =>
    Object.freeze({
      subject,
      bytes: quota.bytes,
      period: quota.period,
      timeZone,
      up: quota.direction !== "down",
      down: quota.direction !== "up",
      throttleBytesPerSec: quota.onExhaust === "throttle" ? quota.throttleBytesPerSec : undefined,
    });
  const groups = new Map<string, QuotaRule>();
  for (const group of snapshot.groups) {
    if (group.quota) groups.set(group.name, rule(quotaSubject("group", group.name), group.quota));
  }
  const byUser = new Map<string, readonly QuotaRule[]>();
  for (const user of snapshot.users) {
    const rules: QuotaRule[] = [];
    if (user.quota) rules.push(rule(quotaSubject("user", user.username), user.quota));
    for (const name of user.groups) {
      const group = groups.get(name);
      if (group) rules.push(group);
    }
    if (rules.length > 0) byUser.set(user.username, Object.freeze(rules));
  }
  return byUser;
}

/** Every subject with a quota in the snapshot (what a relay reports usage for). */
export function quotaSubjects(snapshot: PolicySnapshot): Map<string, QuotaRule> {
  const subjects = new Map<string, QuotaRule>();
  for (const rules of compileQuotas(snapshot).values()) {
    for (const rule of rules) subjects.set(rule.subject, rule);
  }
  return subjects;
}

/**
 * The ledger row a period's bytes go to: the subject itself for calendar periods; for a rolling
 * window one of its 24 bucket rows (`user:alice#7`), reused round-robin as buckets age out.
 */
export function ledgerKey(
  rule: Pick<QuotaRule, "subject" | "period">,
  periodStartMs: number,
): string {
  if (!isRolling(rule.period)) return rule.subject;
  const slot = Math.floor(periodStartMs / rollingBucketMs(rule.period)) % ROLLING_BUCKETS;
  return `${rule.subject}#${slot}`;
}

/** Every ledger row of `rule` (a reset clears them all). */
export function ledgerKeys(rule: Pick<QuotaRule, "subject" | "period">): string[] {
  if (!isRolling(rule.period)) return [rule.subject];
  return Array.from({ length: ROLLING_BUCKETS }, (_, slot) => `${rule.subject}#${slot}`);
}
