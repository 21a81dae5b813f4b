import type { Db } from "@edgesocks/db";
import { sessions } from "@edgesocks/db/schema";
import { and, desc, sql } from "drizzle-orm";
import { z } from "zod";
import { filterConditions, SessionFilter } from "./session-query";

export const StatsSummaryInput = SessionFilter.pick({
  node: true,
  region: true,
  user: true,
  from: true,
  to: true,
}).extend({
  /** Entries in each top list. @default 10 */
  top: z.int().min(1).max(100).default(10),
  /** Width of one time-series bucket in ms; chosen from the window when absent (≤ 200 buckets). */
  bucketMs: z.int().min(1000).optional(),
});
export type StatsSummaryInput = z.infer<typeof StatsSummaryInput>;

/** The default window of stats.summary: the last 24 hours. */
export const DEFAULT_STATS_WINDOW_MS = 24 * 3600_000;

const BUCKETS_MS = [60_000, 300_000, 900_000, 3600_000, 6 * 3600_000, 86_400_000, 7 * 86_400_000];

/** The smallest bucket that cuts the window into at most 200 points. */
export function bucketFor(windowMs: number): number {
  return BUCKETS_MS.find((ms) => windowMs / ms <= 200) ?? BUCKETS_MS.at(-1)!;
}

const num = (value: unknown) => Number(value ?? 0);

// `+column` groups without using that column's index: walking the whole user or host index to
// avoid a sort is far slower than grouping the rows of the time range the filter selects.
const byNode = sql`+${sessions.node}`;
const byRegion = sql`+${sessions.region}`;
const byUser = sql`+${sessions.user}`;
const byHost = sql`+${sessions.destinationHost}`;

/** Totals, breakdowns, top lists and a time series of sessions started in the window. */
export async function statsSummary(db: Db, input: StatsSummaryInput) {
  const toMs = input.to !== undefined ? Date.parse(input.to) : Date.now();
  const fromMs = input.from !== undefined ? Date.parse(input.from) : toMs - DEFAULT_STATS_WINDOW_MS;
  const bucketMs = input.bucketMs ?? bucketFor(Math.max(1, toMs - fromMs));
  const where = and(
    ...filterConditions({
      ...input,
      from: new Date(fromMs).toISOString(),
      to: new Date(toMs).toISOString(),
    }),
  );
  const bytes = sql<number>`coalesce(sum(${sessions.bytesTotal}), 0)`;
  const count = sql<number>`count(*)`;
  const rejected = sql<number>`coalesce(sum(${sessions.status} = 'rejected'), 0)`;
  const [totals, nodeRows, topUsersByBytes, topUsersBySessions, topDestinations, series] =
    await Promise.all([
      db
        .select({
          sessions: count,
          bytesUp: sql<number>`coalesce(sum(${sessions.bytesUp}), 0)`,
          bytesDown: sql<number>`coalesce(sum(${sessions.bytesDown}), 0)`,
          rejected,
          failed: sql<number>`coalesce(sum(${sessions.status} = 'failed'), 0)`,
          allowed: sql<number>`coalesce(sum(${sessions.decision} = 'allow'), 0)`,
          blocked: sql<number>`coalesce(sum(${sessions.decision} = 'block'), 0)`,
        })
        .from(sessions)
        .where(where),
      db
        .select({ node: sessions.node, region: sessions.region, sessions: count, bytes, rejected })
        .from(sessions)
        .where(where)
        .groupBy(byNode, byRegion)
        .orderBy(desc(count)),
      db
        .select({ user: sessions.user, sessions: count, bytes })
        .from(sessions)
        .where(where)
        .groupBy(byUser)
        .orderBy(desc(bytes))
        .limit(input.top),
      db
        .select({ user: sessions.user, sessions: count, bytes })
        .from(sessions)
        .where(where)
        .groupBy(byUser)
        .orderBy(desc(count))
        .limit(input.top),
      db
        .select({ host: sessions.destinationHost, sessions: count, bytes })
        .from(sessions)
        .where(and(where, sql`${sessions.destinationHost} IS NOT NULL`))
        .groupBy(byHost)
        .orderBy(desc(count))
        .limit(input.top),
      db
        .select({
          // A literal: a bound JS number is a REAL in SQLite, and the division must be integral.
          bucket: sql<number>`(${sessions.startedAtMs} / ${sql.raw(String(Math.trunc(bucketMs)))}) * ${sql.raw(String(Math.trunc(bucketMs)))}`,
          sessions: count,
          bytes,
          rejected,
        })
        .from(sessions)
        .where(where)
        .groupBy(sql`1`)
        .orderBy(sql`1`),
    ]);
  const total = totals[0];
  const regions = new Map<
    string,
    { region: string; sessions: number; bytes: number; rejected: number }
  >();
  for (const row of nodeRows) {
    const region = row.region ?? "";
    const entry = regions.get(region) ?? { region, sessions: 0, bytes: 0, rejected: 0 };
    entry.sessions += num(row.sessions);
    entry.bytes += num(row.bytes);
    entry.rejected += num(row.rejected);
    regions.set(region, entry);
  }
  return {
    from: new Date(fromMs).toISOString(),
    to: new Date(toMs).toISOString(),
    bucketMs,
    totals: {
      sessions: num(total?.sessions),
      bytesUp: num(total?.bytesUp),
      bytesDown: num(total?.bytesDown),
      rejected: num(total?.rejected),
      failed: num(total?.failed),
      aclAllow: num(total?.allowed),
      aclBlock: num(total?.blocked),
    },
    byNode: nodeRows.map((row) => ({
      node: row.node,
      region: row.region,
      sessions: num(row.sessions),
      bytes: num(row.bytes),
      rejected: num(row.rejected),
    })),
    byRegion: [...regions.values()].sort((a, b) => b.sessions - a.sessions),
    topUsersByBytes: topUsersByBytes.map((r) => ({
      user: r.user,
      sessions: num(r.sessions),
      bytes: num(r.bytes),
    })),
    topUsersBySessions: topUsersBySessions.map((r) => ({
      user: r.user,
      sessions: num(r.sessions),
      bytes: num(r.bytes),
    })),
    topDestinations: topDestinations.map((r) => ({
      host: r.host ?? "",
      sessions: num(r.sessions),
      bytes: num(r.bytes),
    })),
    series: series.map((r) => ({
      at: new Date(num(r.bucket)).toISOString(),
      sessions: num(r.sessions),
      bytes: num(r.bytes),
      rejected: num(r.rejected),
    })),
  };
}
