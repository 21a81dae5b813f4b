import type { Database, Db } from "@edgesocks/db";
import { nodes, quotaUsage, type StoredQuota } from "@edgesocks/db/schema";
import { countedFromMs, periodWindow, quotaSubject } from "@edgesocks/policy";
import { and, eq, gte, isNotNull, isNull, sql } from "drizzle-orm";
import type { QuotaVerdict } from "../wire";
import type { NodeCommandBus } from "./node-commands";

/** One quota of the policy in force, by the key relays count it under. */
export interface QuotaDefinition {
  subject: string;
  kind: "user" | "group";
  name: string;
  quota: StoredQuota;
  timeZone: string;
}

/** What quotas are read from: a snapshot, or the editable policy state. */
export interface QuotaSource {
  users: readonly { username: string; quota?: StoredQuota | null | undefined }[];
  groups: readonly { name: string; quota?: StoredQuota | null | undefined }[];
  quotaTimezone?: string | undefined;
}

/** Every user and group quota of `snapshot` (or policy state). */
export function quotaDefinitions(snapshot: QuotaSource | undefined): QuotaDefinition[] {
  if (snapshot === undefined) return [];
  const timeZone = snapshot.quotaTimezone ?? "UTC";
  const out: QuotaDefinition[] = [];
  for (const u of snapshot.users) {
    if (u.quota) {
      const subject = quotaSubject("user", u.username);
      out.push({ subject, kind: "user", name: u.username, quota: u.quota, timeZone });
    }
  }
  for (const g of snapshot.groups) {
    if (g.quota) {
      const subject = quotaSubject("group", g.name);
      out.push({ subject, kind: "group", name: g.name, quota: g.quota, timeZone });
    }
  }
  return out;
}

const ROWS_PER_STATEMENT = 200;
/** Longest period a quota counts (a month), plus a day of slack for clock skew. */
const MAX_PERIOD_MS = 32 * 86_400_000;

/**
 * Stores a relay process's counts. A count only grows within one process, so each row keeps the
 * largest value reported: a heartbeat delayed past a newer one changes nothing, and a control
 * plane restart loses nothing (the relays report their whole period again).
 */
export async function storeQuotaUsage(
  database: Database,
  nodeId: number,
  report: {
    boot: string;
    usage: readonly { subject: string; periodStartMs: number; bytes: number }[];
  },
  nowMs: number,
): Promise<void> {
  const { db, writes } = database;
  for (let i = 0; i < report.usage.length; i += ROWS_PER_STATEMENT) {
    const rows = report.usage.slice(i, i + ROWS_PER_STATEMENT).map((u) => ({
      subject: u.subject,
      periodStartMs: u.periodStartMs,
      nodeId,
      boot: report.boot,
      bytes: u.bytes,
      updatedAtMs: nowMs,
    }));
    await writes.run(() =>
      db
        .insert(quotaUsage)
        .values(rows)
        .onConflictDoUpdate({
          target: [
            quotaUsage.subject,
            quotaUsage.periodStartMs,
            quotaUsage.nodeId,
            quotaUsage.boot,
          ],
          set: {
            bytes: sql`max(${quotaUsage.bytes}, excluded.bytes)`,
            updatedAtMs: nowMs,
          },
        }),
    );
  }
}

export interface FleetQuota extends QuotaDefinition {
  /** The period in force (for a rolling window: its bucket in progress). */
  periodStartMs: number;
  /** The first instant counted: the period's start, or a rolling window's oldest bucket. */
  countedFromMs: number;
  periodEndMs: number;
  usedBytes: number;
  /** Bytes of every relay process but `self` (when given). */
  othersBytes: number;
  exhausted: boolean;
}

/** The fleet's use of each quota in its period in force at `nowMs` (this control plane's clock). */
export async function fleetQuotas(
  db: Db,
  definitions: readonly QuotaDefinition[],
  nowMs: number,
  self?: { nodeId: number; boot: string },
): Promise<FleetQuota[]> {
  if (definitions.length === 0) return [];
  const mine = self
    ? sql<number>`coalesce(sum(case when ${quotaUsage.nodeId} = ${self.nodeId} and ${quotaUsage.boot} = ${self.boot} then ${quotaUsage.bytes} else 0 end), 0)`
    : sql<number>`0`;
  const rows = await db
    .select({
      subject: quotaUsage.subject,
      periodStartMs: quotaUsage.periodStartMs,
      bytes: sql<number>`sum(${quotaUsage.bytes})`,
      mine,
    })
    .from(quotaUsage)
    .where(gte(quotaUsage.periodStartMs, nowMs - MAX_PERIOD_MS))
    .groupBy(quotaUsage.subject, quotaUsage.periodStartMs);
  const bySubject = new Map<string, typeof rows>();
  for (const r of rows) {
    const list = bySubject.get(r.subject);
    if (list) list.push(r);
    else bySubject.set(r.subject, [r]);
  }
  return definitions.map((d) => {
    const window = periodWindow(d.quota.period, d.timeZone, nowMs);
    const from = countedFromMs(d.quota.period, d.timeZone, nowMs);
    let usedBytes = 0;
    let mineBytes = 0;
    // A calendar period is one start; a rolling window sums the buckets still in it.
    for (const r of bySubject.get(d.subject) ?? []) {
      if (r.periodStartMs < from || r.periodStartMs > window.startMs) continue;
      usedBytes += Number(r.bytes);
      mineBytes += Number(r.mine);
    }
    return {
      ...d,
      periodStartMs: window.startMs,
      countedFromMs: from,
      periodEndMs: window.endMs,
      usedBytes,
      othersBytes: usedBytes - mineBytes,
      exhausted: usedBytes >= d.quota.bytes,
    };
  });
}

export function toVerdicts(quotas: readonly FleetQuota[]): QuotaVerdict[] {
  return quotas.map((q) => ({
    subject: q.subject,
    periodStartMs: q.periodStartMs,
    othersBytes: q.othersBytes,
    exhausted: q.exhausted,
  }));
}

/** Starts `subject`'s count over: the rows of every period from `fromMs` on go. */
export async function clearQuotaUsage(
  database: Database,
  subject: string,
  fromMs: number,
): Promise<void> {
  const { db, writes } = database;
  await writes.run(() =>
    db
      .delete(quotaUsage)
      .where(and(eq(quotaUsage.subject, subject), gte(quotaUsage.periodStartMs, fromMs))),
  );
}

/** Drops counts of periods long over (called with the retention job's cadence). */
export async function pruneQuotaUsage(database: Database, nowMs: number): Promise<void> {
  const { db, writes } = database;
  await writes.run(() =>
    db.delete(quotaUsage).where(sql`${quotaUsage.periodStartMs} < ${nowMs - 2 * MAX_PERIOD_MS}`),
  );
}

/** Enrolled, enabled nodes: where fleet-wide quota commands go. */
export async function enrolledNodeIds(db: Db): Promise<number[]> {
  const rows = await db
    .select({ id: nodes.id })
    .from(nodes)
    .where(and(isNotNull(nodes.nodeTokenHash), isNull(nodes.disabledAtMs)));
  return rows.map((r) => r.id);
}

/**
 * Tells every relay at once when a heartbeat made the fleet spend a quota (the heartbeats that
 * follow say so too; this only saves up to one heartbeat interval). Once per subject and period
 * per control-plane instance.
 */
export class QuotaAnnouncer {
  readonly #announced = new Map<string, number>();

  async announce(db: Db, commands: NodeCommandBus, quotas: readonly FleetQuota[]): Promise<void> {
    const fresh = quotas.filter(
      (q) => q.exhausted && this.#announced.get(q.subject) !== q.periodStartMs,
    );
    if (fresh.length === 0) return;
    for (const q of fresh) this.#announced.set(q.subject, q.periodStartMs);
    const command = {
      type: "quota_exhausted" as const,
      quotas: fresh.map((q) => ({ subject: q.subject, periodStartMs: q.periodStartMs })),
    };
    for (const id of await enrolledNodeIds(db)) await commands.send(id, command);
  }

  /** A reset: the subject may be announced again in this period. */
  forget(subject: string): void {
    this.#announced.delete(subject);
  }
}
