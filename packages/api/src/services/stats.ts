import { bucketSql, type Database } from "@edgesocks/db";
import { SESSION_ROLLUP_GRAINS_MS, SESSION_ROLLUP_STORED_GRAINS_MS } from "@edgesocks/db/schema";
import type { InValue } from "@libsql/client";
import { z } from "zod";
import { SessionFilter, timeRange } from "./session-query";
import { BucketCache, type CachedBucket } from "./stats-cache";
import { StatsReadThread } from "./stats-read-thread";
import { type Read, UserHourCache, userSummary } from "./stats-user";
import {
  bucketsOf,
  contiguous,
  grainsForSeries,
  planWindow,
  type WindowPlan,
} from "./stats-window";

/** The default window of stats.summary: the last 24 hours. */
export const DEFAULT_STATS_WINDOW_MS = 24 * 3600_000;
/**
 * The longest window stats.summary reads: its cost grows with the rollup buckets in the window
 * (one per day at the coarsest grain), so a window of centuries would hold the event loop.
 */
export const MAX_STATS_WINDOW_MS = 400 * 86_400_000;
/** The most time-series buckets one summary returns (bucketMs must cut the window into no more). */
export const MAX_STATS_SERIES_BUCKETS = 2000;

export const StatsSummaryInput = SessionFilter.pick({
  node: true,
  region: true,
  user: true,
  from: true,
  to: true,
})
  .extend({
    /** Entries in each top list. @default 10 */
    top: z.int().min(1).max(100).default(10),
    /** Width of one time-series bucket in ms; chosen from the window when absent (≤ 200 buckets). */
    bucketMs: z.int().min(1000).max(MAX_STATS_WINDOW_MS).optional(),
  })
  .superRefine(
    timeRange({ maxWindowMs: MAX_STATS_WINDOW_MS, defaultWindowMs: DEFAULT_STATS_WINDOW_MS }),
  )
  .superRefine((input, ctx) => {
    if (input.bucketMs === undefined) return;
    const toMs = input.to !== undefined ? Date.parse(input.to) : Date.now();
    const fromMs =
      input.from !== undefined ? Date.parse(input.from) : toMs - DEFAULT_STATS_WINDOW_MS;
    const buckets = Math.ceil((toMs - fromMs) / input.bucketMs);
    if (buckets > MAX_STATS_SERIES_BUCKETS) {
      ctx.addIssue({
        code: "custom",
        path: ["bucketMs"],
        message: `cuts the window into ${buckets} buckets; at most ${MAX_STATS_SERIES_BUCKETS}`,
      });
    }
  });
export type StatsSummaryInput = z.infer<typeof StatsSummaryInput>;

const BUCKETS_MS = [60_000, 300_000, 900_000, 3600_000, 6 * 3600_000, 86_400_000, 7 * 86_400_000];

/** The smallest bucket that cuts the window into at most 200 points. */
export function bucketFor(windowMs: number): number {
  return BUCKETS_MS.find((ms) => windowMs / ms <= 200) ?? BUCKETS_MS.at(-1)!;
}

const caches = new WeakMap<Database, BucketCache>();
const userCaches = new WeakMap<Database, UserHourCache>();
const threads = new WeakMap<Database, StatsReadThread>();

interface Filter {
  node?: string | undefined;
  region?: string | undefined;
}

/** `AND node = ? AND region = ?` for the filters that are set (rollup rows store "" for none). */
function placeSql(filter: Filter, args: InValue[]): string {
  let sql = "";
  if (filter.node !== undefined) {
    sql += " AND node = ?";
    args.push(filter.node);
  }
  if (filter.region !== undefined) {
    sql += " AND region = ?";
    args.push(filter.region);
  }
  return sql;
}

/**
 * SELECTs over the sessions not in rollup buckets: those in the plan's raw ranges that the
 * rollups count (seq up to the cursor; found through the start-time indexes), and every session
 * of the window past the cursor (found by seq; `+` keeps the planner off the time indexes).
 */
function rawArms(options: {
  select: string;
  where: string;
  plan: WindowPlan;
  cursor: number;
  fromMs: number;
  toMs: number;
  filter: Filter;
  args: InValue[];
}): string[] {
  const { select, where, plan, cursor, fromMs, toMs, filter, args } = options;
  const arms: string[] = [];
  for (const [a, b] of plan.raw) {
    args.push(a, b, cursor);
    arms.push(
      `SELECT ${select} FROM sessions WHERE started_at_ms >= ? AND started_at_ms < ? AND seq <= ?${where}${placeSql(filter, args)}`,
    );
  }
  args.push(cursor, fromMs, toMs);
  arms.push(
    `SELECT ${select} FROM sessions WHERE seq > ? AND +started_at_ms >= ? AND +started_at_ms < ?${where}${placeSql(filter, args)}`,
  );
  return arms;
}

const num = (value: unknown) => Number(value ?? 0);
/**
 * Text leaves SQL as hex(…) and is decoded here: json_group_array would copy stored bytes that
 * are not valid UTF-8 (an older ingest could store them) into its result, and the libSQL driver
 * aborts the process on such a result; hex is ASCII, and Buffer turns bad bytes into U+FFFD.
 */
const fromHex = (value: unknown) => Buffer.from(String(value ?? ""), "hex").toString("utf8");
/** Rollup rows and the API use "" and null differently for a session without node or region. */
const orNull = (value: string) => (value === "" ? null : value);

interface Counts {
  sessions: number;
  bytesUp: number;
  bytesDown: number;
  rejected: number;
  failed: number;
  allowed: number;
  blocked: number;
}

const zero = (): Counts => ({
  sessions: 0,
  bytesUp: 0,
  bytesDown: 0,
  rejected: 0,
  failed: 0,
  allowed: 0,
  blocked: 0,
});

function add(into: Counts, row: readonly unknown[], at: number): void {
  into.sessions += num(row[at]);
  into.bytesUp += num(row[at + 1]);
  into.bytesDown += num(row[at + 2]);
  into.rejected += num(row[at + 3]);
  into.failed += num(row[at + 4]);
  into.allowed += num(row[at + 5]);
  into.blocked += num(row[at + 6]);
}

/** The columns of a counts row: series bucket, node, region, then the Counts in order. */
const COUNT_COLUMNS = "sb, hex(node), hex(region), s, bu, bd, rj, fl, al, bl";
const COUNT_SUMS =
  "sb, node, region, sum(s) AS s, sum(bu) AS bu, sum(bd) AS bd, sum(rj) AS rj, sum(fl) AS fl, sum(al) AS al, sum(bl) AS bl";
const sessionCounts = (seriesMs: number) =>
  `${bucketSql("started_at_ms", seriesMs)} AS sb, coalesce(node, '') AS node, coalesce(region, '') AS region, 1 AS s, bytes_up AS bu, bytes_down AS bd, status IS 'rejected' AS rj, status IS 'failed' AS fl, decision IS 'allow' AS al, decision IS 'block' AS bl`;

/**
 * Counts by series bucket, node and region: `node` rollup rows of the grains that fit inside one
 * series bucket, plus raw sessions.
 */
async function countsBySeriesBucket(
  read: Read,
  options: { fromMs: number; toMs: number; seriesMs: number; cursor: number; filter: Filter },
): Promise<unknown[][]> {
  const { fromMs, toMs, seriesMs, cursor, filter } = options;
  const grainsMs = grainsForSeries(SESSION_ROLLUP_STORED_GRAINS_MS.node, seriesMs);
  const plan = planWindow(fromMs, toMs, grainsMs);
  const args: InValue[] = [];
  const arms = plan.pieces.map((piece) => {
    args.push(piece.grainMs, piece.fromMs, piece.toMs);
    return `SELECT ${bucketSql("bucket_ms", seriesMs)} AS sb, node, region, sessions AS s, bytes_up AS bu, bytes_down AS bd, rejected AS rj, failed AS fl, allowed AS al, blocked AS bl FROM session_rollups WHERE dimension = 'node' AND grain_ms = ? AND bucket_ms >= ? AND bucket_ms < ?${placeSql(filter, args)}`;
  });
  arms.push(
    ...rawArms({
      select: sessionCounts(seriesMs),
      where: "",
      plan,
      cursor,
      fromMs,
      toMs,
      filter,
      args,
    }),
  );
  const sql = `SELECT json_group_array(json_array(${COUNT_COLUMNS})) FROM (SELECT ${COUNT_SUMS} FROM (${arms.join(" UNION ALL ")}) GROUP BY sb, node, region)`;
  return JSON.parse(String((await read({ sql, args }))[0])) as unknown[][];
}

const TOP_DIMENSIONS = {
  user: { key: "user", where: "" },
  host: { key: "destination_host", where: " AND destination_host IS NOT NULL" },
  country: { key: "destination_country", where: " AND destination_country IS NOT NULL" },
} as const;

/** Sums of sessions and bytes by key (user, host or country) over the window, for the top lists. */
interface KeySums {
  /** Keys are interned as hex of their UTF-8 (see fromHex). */
  ids: number[];
  keys: readonly string[];
  sessions: Float64Array;
  bytes: Float64Array;
}

/**
 * Sessions and bytes by user, host or country: cached rollup buckets (re-read when their version
 * moved) for the whole buckets, the sessions table for the rest.
 */
async function sumsByKey(
  read: Read,
  cache: BucketCache,
  options: {
    dimension: keyof typeof TOP_DIMENSIONS;
    plan: WindowPlan;
    versions: Map<string, string>;
    cursor: number;
    fromMs: number;
    toMs: number;
    filter: Filter;
  },
): Promise<KeySums> {
  const { dimension, plan, versions, cursor, fromMs, toMs, filter } = options;
  const { key, where } = TOP_DIMENSIONS[dimension];
  const stored = SESSION_ROLLUP_STORED_GRAINS_MS[dimension];
  const buckets: CachedBucket[] = [];
  for (const piece of plan.pieces) {
    const stale: number[] = [];
    for (const bucketMs of bucketsOf(piece)) {
      const version = versions.get(`${piece.grainMs}:${bucketMs}`);
      if (version === undefined) continue; // no sessions in that bucket
      const cached = cache.get(BucketCache.key(dimension, piece.grainMs, bucketMs), version);
      if (cached === undefined) stale.push(bucketMs);
      else buckets.push(cached);
    }
    if (stale.length === 0) continue;
    let fetched: Map<number, [string, string, string, number, number][]>;
    if (stored.includes(piece.grainMs)) {
      const rows = await read({
        sql: "SELECT json_group_array(json_array(bucket_ms, rows)) FROM (SELECT bucket_ms, json_group_array(json_array(hex(key), hex(node), hex(region), sessions, bytes_up + bytes_down)) AS rows FROM session_rollups WHERE dimension = ? AND grain_ms = ? AND bucket_ms IN (SELECT value FROM json_each(?)) GROUP BY bucket_ms)",
        args: [dimension, piece.grainMs, JSON.stringify(stale)],
      });
      fetched = parseBuckets(rows[0]);
    } else {
      // Not stored at this grain: the same sums from the sessions the rollups count so far
      // (seq up to the cursor), which is what the bucket's version describes.
      const args: InValue[] = [];
      const ranges = contiguous(stale, piece.grainMs).map(([a, b]) => {
        args.push(a, b, cursor);
        return `SELECT ${bucketSql("started_at_ms", piece.grainMs)} AS bucket_ms, ${key} AS k, coalesce(node, '') AS node, coalesce(region, '') AS region, bytes_total FROM sessions WHERE started_at_ms >= ? AND started_at_ms < ? AND seq <= ?${where}`;
      });
      const rows = await read({
        sql: `SELECT json_group_array(json_array(bucket_ms, rows)) FROM (SELECT bucket_ms, json_group_array(json_array(hex(k), hex(node), hex(region), s, b)) AS rows FROM (SELECT bucket_ms, k, node, region, count(*) AS s, sum(bytes_total) AS b FROM (${ranges.join(" UNION ALL ")}) GROUP BY 1, 2, 3, 4) GROUP BY bucket_ms)`,
        args,
      });
      fetched = parseBuckets(rows[0]);
    }
    for (const bucketMs of stale) {
      const list = fetched.get(bucketMs) ?? [];
      const entry: CachedBucket = {
        version: versions.get(`${piece.grainMs}:${bucketMs}`)!,
        keyIds: new Int32Array(list.length),
        placeIds: new Int32Array(list.length),
        sessions: new Float64Array(list.length),
        bytes: new Float64Array(list.length),
      };
      list.forEach(([k, node, region, sessions, bytes], i) => {
        entry.keyIds[i] = cache.keys.id(k);
        entry.placeIds[i] = cache.places.id(`${node}\0${region}`);
        entry.sessions[i] = sessions;
        entry.bytes[i] = bytes;
      });
      cache.set(BucketCache.key(dimension, piece.grainMs, bucketMs), entry);
      buckets.push(entry);
    }
  }

  const args: InValue[] = [];
  const arms = rawArms({
    select: `${key} AS k, bytes_total AS b`,
    where,
    plan,
    cursor,
    fromMs,
    toMs,
    filter,
    args,
  });
  const raw = await read({
    sql: `SELECT json_group_array(json_array(hex(k), s, b)) FROM (SELECT k, count(*) AS s, sum(b) AS b FROM (${arms.join(" UNION ALL ")}) GROUP BY k)`,
    args,
  });
  const rawSums = (JSON.parse(String(raw[0])) as [string, number, number][]).map(
    ([k, sessions, bytes]) => [cache.keys.id(k), sessions, bytes] as const,
  );

  const size = cache.keys.values.length;
  const sums: KeySums = {
    ids: [],
    keys: cache.keys.values,
    sessions: new Float64Array(size),
    bytes: new Float64Array(size),
  };
  const seen = new Uint8Array(size);
  const touch = (id: number) => {
    if (seen[id] === 0) {
      seen[id] = 1;
      sums.ids.push(id);
    }
  };
  const places = cache.places.values.map((place) => {
    const [node, region] = place.split("\0").map(fromHex);
    return (
      (filter.node === undefined || node === filter.node) &&
      (filter.region === undefined || region === filter.region)
    );
  });
  for (const bucket of buckets) {
    for (let i = 0; i < bucket.keyIds.length; i++) {
      if (!places[bucket.placeIds[i]!]) continue;
      const id = bucket.keyIds[i]!;
      touch(id);
      sums.sessions[id]! += bucket.sessions[i]!;
      sums.bytes[id]! += bucket.bytes[i]!;
    }
  }
  for (const [id, sessions, bytes] of rawSums) {
    touch(id);
    sums.sessions[id]! += sessions;
    sums.bytes[id]! += bytes;
  }
  return sums;
}

/** `[bucket, rows JSON]` pairs from json_group_array, by bucket. */
function parseBuckets(json: unknown): Map<number, [string, string, string, number, number][]> {
  return new Map(
    (JSON.parse(String(json)) as [number, string][]).map(([bucketMs, rows]) => [
      bucketMs,
      JSON.parse(rows) as [string, string, string, number, number][],
    ]),
  );
}

/** The `n` ids with the largest `by`, ties in key order. */
function topIds(sums: KeySums, by: Float64Array, n: number): number[] {
  const better = (a: number, b: number) =>
    by[a]! > by[b]! || (by[a] === by[b] && sums.keys[a]! < sums.keys[b]!);
  const top: number[] = [];
  for (const id of sums.ids) {
    if (top.length === n && !better(id, top[n - 1]!)) continue;
    let at = Math.min(top.length, n - 1);
    if (top.length < n) top.push(id);
    while (at > 0 && better(id, top[at - 1]!)) {
      top[at] = top[at - 1]!;
      at -= 1;
    }
    top[at] = id;
  }
  return top;
}

/** Versions of the rollup buckets in the plan, from their `node` rows (every session has one). */
async function bucketVersions(read: Read, plan: WindowPlan): Promise<Map<string, string>> {
  if (plan.pieces.length === 0) return new Map();
  const args: InValue[] = [];
  const arms = plan.pieces.map((piece) => {
    args.push(piece.grainMs, piece.fromMs, piece.toMs);
    return "SELECT grain_ms, bucket_ms, last_seq, sessions, bytes_up + bytes_down AS bytes FROM session_rollups WHERE dimension = 'node' AND grain_ms = ? AND bucket_ms >= ? AND bucket_ms < ?";
  });
  // The pass that last wrote a row, and what the bucket holds: a bucket that was deleted and
  // refilled after its cursor was clamped (retention) still differs in its sums.
  const rows = await read({
    sql: `SELECT json_group_array(json_array(grain_ms, bucket_ms, v)) FROM (SELECT grain_ms, bucket_ms, max(last_seq) || ':' || sum(sessions) || ':' || sum(bytes) AS v FROM (${arms.join(" UNION ALL ")}) GROUP BY grain_ms, bucket_ms)`,
    args,
  });
  return new Map(
    (JSON.parse(String(rows[0])) as [number, number, string][]).map(([grainMs, bucketMs, v]) => [
      `${grainMs}:${bucketMs}`,
      v,
    ]),
  );
}

/**
 * Totals, breakdowns, top lists and a time series of sessions started in the window, exact for
 * any window: whole minute, hour and day buckets come from session_rollups, the partial minutes
 * at either end and the sessions the rollups do not count yet from the sessions table, all in
 * one read transaction. Top lists sum cached per-bucket rows (see BucketCache).
 */
export async function statsSummary(database: Database, input: StatsSummaryInput) {
  const toMs = input.to !== undefined ? Date.parse(input.to) : Date.now();
  const fromMs = input.from !== undefined ? Date.parse(input.from) : toMs - DEFAULT_STATS_WINDOW_MS;
  const bucketMs = input.bucketMs ?? bucketFor(Math.max(1, toMs - fromMs));
  const filter: Filter = { node: input.node, region: input.region };
  let counted: unknown[][];
  let users: { user: string; sessions: number; bytes: number }[][] = [];
  let destinations: [string, number, number][];
  let countries: [string, number, number][] | null = null;
  // One read transaction: the cursor, the rollups and the sessions past the cursor must agree.
  let thread = threads.get(database);
  if (thread === undefined) {
    thread = new StatsReadThread(database);
    threads.set(database, thread);
  }
  const tx = await thread.transaction();
  const read: Read = (query) => tx.execute(query);
  try {
    const cursor = num((await read({ sql: "SELECT seq FROM session_rollup_cursor", args: [] }))[0]);
    if (input.user !== undefined) {
      let cache = userCaches.get(database);
      if (cache === undefined) {
        cache = new UserHourCache();
        userCaches.set(database, cache);
      }
      ({ counted, destinations } = await userSummary(read, cache, {
        user: input.user,
        fromMs,
        toMs,
        seriesMs: bucketMs,
        cursor,
        filter,
        top: input.top,
      }));
    } else {
      let cache = caches.get(database);
      if (cache === undefined) {
        cache = new BucketCache();
        caches.set(database, cache);
      }
      cache.trim();
      counted = await countsBySeriesBucket(read, {
        fromMs,
        toMs,
        seriesMs: bucketMs,
        cursor,
        filter,
      });
      const plan = planWindow(fromMs, toMs, SESSION_ROLLUP_GRAINS_MS);
      const versions = await bucketVersions(read, plan);
      const common = { plan, versions, cursor, fromMs, toMs, filter };
      const byUser = await sumsByKey(read, cache, { ...common, dimension: "user" });
      const byHost = await sumsByKey(read, cache, { ...common, dimension: "host" });
      const top = (sums: KeySums, by: Float64Array) =>
        topIds(sums, by, input.top).map(
          (id) =>
            [fromHex(sums.keys[id]), sums.sessions[id]!, sums.bytes[id]!] as [
              string,
              number,
              number,
            ],
        );
      users = [top(byUser, byUser.bytes), top(byUser, byUser.sessions)].map((list) =>
        list.map(([user, sessions, bytes]) => ({ user, sessions, bytes })),
      );
      destinations = top(byHost, byHost.sessions);
      const byCountry = await sumsByKey(read, cache, { ...common, dimension: "country" });
      countries = top(byCountry, byCountry.bytes);
    }
  } finally {
    tx.close();
  }

  const totals = zero();
  const nodes = new Map<string, { node: string; region: string } & Counts>();
  const series = new Map<number, Counts>();
  for (const row of counted) {
    add(totals, row, 3);
    const place = `${row[1]}\0${row[2]}`;
    let node = nodes.get(place);
    if (node === undefined) {
      node = { node: fromHex(row[1]), region: fromHex(row[2]), ...zero() };
      nodes.set(place, node);
    }
    add(node, row, 3);
    const at = num(row[0]);
    let point = series.get(at);
    if (point === undefined) {
      point = zero();
      series.set(at, point);
    }
    add(point, row, 3);
  }
  if (input.user !== undefined) {
    const only =
      totals.sessions > 0
        ? [
            {
              user: input.user,
              sessions: totals.sessions,
              bytes: totals.bytesUp + totals.bytesDown,
            },
          ]
        : [];
    users = [only, only];
  }
  const byNode = [...nodes.values()]
    .sort((a, b) => b.sessions - a.sessions)
    .map((n) => ({
      node: orNull(n.node),
      region: orNull(n.region),
      sessions: n.sessions,
      bytes: n.bytesUp + n.bytesDown,
      rejected: n.rejected,
    }));
  const regions = new Map<
    string,
    { region: string; sessions: number; bytes: number; rejected: number }
  >();
  for (const row of byNode) {
    const region = row.region ?? "";
    const entry = regions.get(region) ?? { region, sessions: 0, bytes: 0, rejected: 0 };
    entry.sessions += row.sessions;
    entry.bytes += row.bytes;
    entry.rejected += row.rejected;
    regions.set(region, entry);
  }
  return {
    from: new Date(fromMs).toISOString(),
    to: new Date(toMs).toISOString(),
    bucketMs,
    totals: {
      sessions: totals.sessions,
      bytesUp: totals.bytesUp,
      bytesDown: totals.bytesDown,
      rejected: totals.rejected,
      failed: totals.failed,
      aclAllow: totals.allowed,
      aclBlock: totals.blocked,
    },
    byNode,
    byRegion: [...regions.values()].sort((a, b) => b.sessions - a.sessions),
    topUsersByBytes: users[0] ?? [],
    topUsersBySessions: users[1] ?? [],
    topDestinations: destinations.map(([host, sessions, bytes]) => ({ host, sessions, bytes })),
    topCountries:
      countries?.map(([country, sessions, bytes]) => ({ country, sessions, bytes })) ?? null,
    series: [...series.entries()]
      .sort((a, b) => a[0] - b[0])
      .map(([at, point]) => ({
        at: new Date(at).toISOString(),
        sessions: point.sessions,
        bytes: point.bytesUp + point.bytesDown,
        rejected: point.rejected,
      })),
  };
}
