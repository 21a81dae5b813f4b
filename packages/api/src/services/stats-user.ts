import { bucketSql } from "@edgesocks/db";
import type { InValue } from "@libsql/client";
import { bucketsOf, contiguous, planWindow } from "./stats-window";

const HOUR_MS = 3_600_000;

/** A read in stats.summary's transaction: the first row of the result. */
export type Read = (query: { sql: string; args: InValue[] }) => Promise<unknown[]>;

/** Counts of one series bucket and place: [sb, node, region, s, bu, bd, rj, fl, al, bl]. */
type CountRow = [number, string, string, number, number, number, number, number, number, number];
/** Sessions and bytes of one host and place: [host, node, region, sessions, bytes]. */
type HostRow = [string, string, string, number, number];

interface UserHour {
  version: string;
  counts: CountRow[];
  hosts: HostRow[];
}

/** Text comes out of SQL as hex (see stats.ts); a NULL node or region as this, which no hex is. */
const NULL_TEXT = "null";
/** As SQLite writes hex: upper case. */
const hexOf = (value: string) => Buffer.from(value, "utf8").toString("hex").toUpperCase();
const textHex = (column: string) => `iif(${column} IS NULL, '${NULL_TEXT}', hex(${column}))`;

export interface UserHourCacheOptions {
  /** Cached rows (counts and hosts, over every entry) before the least recently used go. @default 200000 */
  maxRows?: number;
}

/**
 * One user's sessions aggregated per whole hour (counts by series bucket and place, sessions by
 * host and place), kept between stats.summary calls like BucketCache: an entry is used only
 * while the user's `user` rollup rows for that hour report the same version in the reader's
 * snapshot, so it is never stale.
 */
export class UserHourCache {
  readonly maxRows: number;
  #entries = new Map<string, UserHour>();
  #rows = 0;

  constructor(options: UserHourCacheOptions = {}) {
    this.maxRows = options.maxRows ?? 200_000;
  }

  static key(user: string, seriesMs: number, hourMs: number): string {
    return `${seriesMs}:${hourMs}:${user}`;
  }

  get(key: string, version: string): UserHour | undefined {
    const entry = this.#entries.get(key);
    if (entry === undefined || entry.version !== version) return undefined;
    this.#entries.delete(key);
    this.#entries.set(key, entry);
    return entry;
  }

  set(key: string, entry: UserHour): void {
    const size = (e: UserHour) => e.counts.length + e.hosts.length;
    const old = this.#entries.get(key);
    if (old !== undefined) {
      this.#rows -= size(old);
      this.#entries.delete(key);
    }
    this.#entries.set(key, entry);
    this.#rows += size(entry);
    for (const [oldest, value] of this.#entries) {
      if (this.#rows <= this.maxRows || oldest === key) break;
      this.#entries.delete(oldest);
      this.#rows -= size(value);
    }
  }

  get rows(): number {
    return this.#rows;
  }
}

/** One range of the user's sessions to aggregate; `cache` ones are whole hours up to the cursor. */
interface Arm {
  where: string;
  args: InValue[];
  cache: boolean;
}

/**
 * Aggregates the arms in one scan of the user's sessions: counts by (hour, series bucket, place)
 * and sessions by (hour, host, place), each row tagged with whether it came from a cached arm.
 */
async function aggregate(read: Read, arms: Arm[], seriesMs: number) {
  const args: InValue[] = [];
  const selects = arms.map((arm) => {
    args.push(...arm.args);
    return `SELECT ${arm.cache ? 1 : 0} AS c, started_at_ms, node, region, destination_host, bytes_up, bytes_down, bytes_total, status, decision FROM sessions WHERE ${arm.where}`;
  });
  const place = `${textHex("node")} AS node, ${textHex("region")} AS region`;
  const rows = await read({
    sql: `WITH u AS MATERIALIZED (${selects.join(" UNION ALL ")}) SELECT (SELECT json_group_array(json_array(c, hb, sb, node, region, s, bu, bd, rj, fl, al, bl)) FROM (SELECT c, ${bucketSql("started_at_ms", HOUR_MS)} AS hb, ${bucketSql("started_at_ms", seriesMs)} AS sb, ${place}, count(*) AS s, sum(bytes_up) AS bu, sum(bytes_down) AS bd, sum(status IS 'rejected') AS rj, sum(status IS 'failed') AS fl, sum(decision IS 'allow') AS al, sum(decision IS 'block') AS bl FROM u GROUP BY 1, 2, 3, 4, 5)), (SELECT json_group_array(json_array(c, hb, hex(destination_host), node, region, s, b)) FROM (SELECT c, ${bucketSql("started_at_ms", HOUR_MS)} AS hb, destination_host, ${place}, count(*) AS s, sum(bytes_total) AS b FROM u WHERE destination_host IS NOT NULL GROUP BY 1, 2, 3, 4, 5))`,
    args,
  });
  return {
    counts: JSON.parse(String(rows[0])) as [number, number, ...CountRow][],
    hosts: JSON.parse(String(rows[1])) as [number, number, ...HostRow][],
  };
}

/** Ranges of stale hours read in one statement at most; more are read as one range. */
const MAX_STALE_RANGES = 50;

/** Versions of the user's hour buckets, from its `user` rollup rows (one seek per hour). */
async function hourVersions(read: Read, user: string, hoursMs: number[]) {
  if (hoursMs.length === 0) return new Map<number, string>();
  const rows = await read({
    sql: `SELECT json_group_array(json_array(bucket_ms, v)) FROM (SELECT bucket_ms, max(last_seq) || ':' || sum(sessions) || ':' || sum(bytes_up + bytes_down) AS v FROM session_rollups WHERE dimension = 'user' AND grain_ms = ${HOUR_MS} AND bucket_ms IN (SELECT value FROM json_each(?)) AND key = ? GROUP BY bucket_ms)`,
    args: [JSON.stringify(hoursMs), user],
  });
  return new Map(JSON.parse(String(rows[0])) as [number, string][]);
}

/**
 * One user's counts by series bucket and place, and top destinations, from that user's sessions
 * (the (user, started_at) index): rollups have no user-and-host rows. Whole hours the rollups
 * count come from `cache` when their version has not moved, so a repeated summary of a busy
 * user reads only the partial hours at the edges and the sessions past the cursor.
 */
export async function userSummary(
  read: Read,
  cache: UserHourCache,
  options: {
    user: string;
    fromMs: number;
    toMs: number;
    seriesMs: number;
    cursor: number;
    filter: { node?: string | undefined; region?: string | undefined };
    top: number;
  },
): Promise<{ counted: unknown[][]; destinations: [string, number, number][] }> {
  const { user, fromMs, toMs, seriesMs, cursor, filter, top } = options;
  // An hour's sessions fall into the same series buckets however they are read only when the
  // series buckets and hours nest; otherwise every session is read.
  const nests = HOUR_MS % seriesMs === 0 || seriesMs % HOUR_MS === 0;
  const plan = nests ? planWindow(fromMs, toMs, [HOUR_MS]) : { pieces: [], raw: [[fromMs, toMs]] };
  const hoursMs = plan.pieces.flatMap(bucketsOf);
  const versions = await hourVersions(read, user, hoursMs);
  const cached: UserHour[] = [];
  const stale: number[] = [];
  for (const hourMs of hoursMs) {
    const version = versions.get(hourMs);
    if (version === undefined) continue; // the rollups count none of the user's sessions there
    const entry = cache.get(UserHourCache.key(user, seriesMs, hourMs), version);
    if (entry === undefined) stale.push(hourMs);
    else cached.push(entry);
  }
  const byUser = "user = ? AND started_at_ms >= ? AND started_at_ms < ?";
  let ranges = contiguous(stale, HOUR_MS);
  if (ranges.length > MAX_STALE_RANGES) ranges = [[ranges[0]![0], ranges.at(-1)![1]]];
  const arms: Arm[] = [
    ...ranges.map(([a, b]) => ({
      where: `${byUser} AND seq <= ?`,
      args: [user, a, b, cursor],
      cache: true,
    })),
    ...plan.raw.map(([a, b]) => ({
      where: nests ? `${byUser} AND seq <= ?` : byUser,
      args: nests ? [user, a, b, cursor] : [user, a, b],
      cache: false,
    })),
  ];
  // Past the cursor (not in any version yet): found by seq, which `+` keeps the planner on.
  if (nests) {
    arms.push({
      where: "seq > ? AND +user = ? AND +started_at_ms >= ? AND +started_at_ms < ?",
      args: [cursor, user, fromMs, toMs],
      cache: false,
    });
  }
  const fresh = await aggregate(read, arms, seriesMs);

  const raw: UserHour = { version: "raw", counts: [], hosts: [] };
  const filled = new Map<number, UserHour>();
  const entryFor = (isCached: number, hourMs: number) => {
    if (isCached === 0) return raw;
    let entry = filled.get(hourMs);
    if (entry === undefined) {
      entry = { version: versions.get(hourMs)!, counts: [], hosts: [] };
      filled.set(hourMs, entry);
    }
    return entry;
  };
  // A merged range also spans hours that were cached: their rows are already in `cached`.
  const wanted = new Set(stale);
  for (const [c, hourMs, ...row] of fresh.counts) {
    if (c === 0 || wanted.has(hourMs)) entryFor(c, hourMs).counts.push(row);
  }
  for (const [c, hourMs, ...row] of fresh.hosts) {
    if (c === 0 || wanted.has(hourMs)) entryFor(c, hourMs).hosts.push(row);
  }
  for (const hourMs of stale) {
    const entry = entryFor(1, hourMs);
    cache.set(UserHourCache.key(user, seriesMs, hourMs), entry);
    cached.push(entry);
  }

  const node = filter.node === undefined ? undefined : hexOf(filter.node);
  const region = filter.region === undefined ? undefined : hexOf(filter.region);
  const inPlace = (row: CountRow | HostRow) =>
    (node === undefined || row[1] === node) && (region === undefined || row[2] === region);
  const plain = (value: string) => (value === NULL_TEXT ? "" : value);
  const counted: unknown[][] = [];
  const hosts = new Map<string, [number, number]>();
  for (const entry of [...cached, raw]) {
    for (const row of entry.counts) {
      if (inPlace(row)) counted.push([row[0], plain(row[1]), plain(row[2]), ...row.slice(3)]);
    }
    for (const row of entry.hosts) {
      if (!inPlace(row)) continue;
      const sums = hosts.get(row[0]);
      if (sums === undefined) hosts.set(row[0], [row[3], row[4]]);
      else {
        sums[0] += row[3];
        sums[1] += row[4];
      }
    }
  }
  // Most sessions first, ties by the host's bytes (hex keeps SQLite's byte order).
  const destinations = [...hosts]
    .sort(([a, x], [b, y]) => y[0] - x[0] || (a < b ? -1 : a > b ? 1 : 0))
    .slice(0, top)
    .map(
      ([host, [sessions, bytes]]) =>
        [Buffer.from(host, "hex").toString("utf8"), sessions, bytes] as [string, number, number],
    );
  return { counted, destinations };
}
