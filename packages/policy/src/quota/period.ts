/** A quota period: calendar periods in a time zone, or a rolling window. */
export type QuotaPeriod = "day" | "week" | "month" | RollingPeriod;
export type RollingPeriod = "rolling_24h" | "rolling_7d" | "rolling_30d";

export const QUOTA_PERIODS = [
  "day",
  "week",
  "month",
  "rolling_24h",
  "rolling_7d",
  "rolling_30d",
] as const;

/**
 * A rolling window is counted in this many buckets of 1/24 of it (1 h of 24 h): what it allows
 * is the sum of the bucket in progress and the 23 before it, so the window is exact to a bucket.
 */
export const ROLLING_BUCKETS = 24;

const ROLLING_WINDOW_MS: Record<RollingPeriod, number> = {
  rolling_24h: 86_400_000,
  rolling_7d: 7 * 86_400_000,
  rolling_30d: 30 * 86_400_000,
};

export function isRolling(period: QuotaPeriod): period is RollingPeriod {
  return period.startsWith("rolling_");
}

/** Bucket length of a rolling window, in ms. */
export function rollingBucketMs(period: RollingPeriod): number {
  return ROLLING_WINDOW_MS[period] / ROLLING_BUCKETS;
}

/**
 * The earliest period start counted at `nowMs`: the calendar period's start, or for a rolling
 * window the start of its oldest bucket still in it.
 */
export function countedFromMs(period: QuotaPeriod, timeZone: string, nowMs: number): number {
  const window = periodWindow(period, timeZone, nowMs);
  if (!isRolling(period)) return window.startMs;
  return window.startMs - (ROLLING_BUCKETS - 1) * rollingBucketMs(period);
}

export interface PeriodWindow {
  /** First instant of the period (ms since the epoch). */
  startMs: number;
  /** First instant of the next period. */
  endMs: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (f === undefined) {
    f = new Intl.DateTimeFormat("en-US", {
      timeZone,
      hourCycle: "h23",
      year: "numeric",
      month: "numeric",
      day: "numeric",
      hour: "numeric",
      minute: "numeric",
      second: "numeric",
    });
    formatters.set(timeZone, f);
  }
  return f;
}

/** True when `timeZone` is an IANA zone name this runtime knows ("UTC", "Europe/Berlin"). */
export function isTimeZone(timeZone: string): boolean {
  try {
    formatter(timeZone);
    return true;
  } catch {
    return false;
  }
}

interface Wall {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
}

function wallTime(ms: number, timeZone: string): Wall {
  const wall: Record<string, number> = {};
  for (const part of formatter(timeZone).formatToParts(ms)) {
    if (part.type !== "literal") wall[part.type] = Number(part.value);
  }
  return wall as unknown as Wall;
}

/** Local time minus UTC at instant `ms`, in ms (whole seconds). */
function offsetAt(ms: number, timeZone: string): number {
  const w = wallTime(ms, timeZone);
  const asUtc = Date.UTC(w.year, w.month - 1, w.day, w.hour, w.minute, w.second);
  return asUtc - Math.floor(ms / 1000) * 1000;
}

/**
 * The first instant of local date year-month-day (month 1-12, overflow allowed) in `timeZone`.
 * Where midnight does not exist (a DST gap at 00:00), the first instant that day has.
 */
export function startOfLocalDay(
  year: number,
  month: number,
  day: number,
  timeZone: string,
): number {
  const midnightUtc = Date.UTC(year, month - 1, day);
  const target = new Date(midnightUtc);
  let candidate = midnightUtc - offsetAt(midnightUtc, timeZone);
  candidate = midnightUtc - offsetAt(candidate, timeZone);
  // In a gap the guess lands before the day (on the previous evening): step to the transition.
  const key = (w: Wall) => w.year * 10000 + w.month * 100 + w.day;
  const want =
    target.getUTCFullYear() * 10000 + (target.getUTCMonth() + 1) * 100 + target.getUTCDate();
  for (let steps = 0; key(wallTime(candidate, timeZone)) < want && steps < 8; steps++) {
    candidate += 15 * 60_000;
  }
  // An overlap at midnight: the earlier of the two midnights.
  while (key(wallTime(candidate - 15 * 60_000, timeZone)) === want) candidate -= 15 * 60_000;
  return candidate;
}

/**
 * The calendar period (in `timeZone`) holding instant `nowMs`, weeks from Monday (ISO); for a
 * rolling window, the bucket holding it (buckets are aligned to the epoch, not to a time zone).
 */
export function periodWindow(period: QuotaPeriod, timeZone: string, nowMs: number): PeriodWindow {
  if (isRolling(period)) {
    const bucketMs = rollingBucketMs(period);
    const startMs = Math.floor(nowMs / bucketMs) * bucketMs;
    return { startMs, endMs: startMs + bucketMs };
  }
  const w = wallTime(nowMs, timeZone);
  if (period === "day") {
    return {
      startMs: startOfLocalDay(w.year, w.month, w.day, timeZone),
      endMs: startOfLocalDay(w.year, w.month, w.day + 1, timeZone),
    };
  }
  if (period === "week") {
    const weekday = (new Date(Date.UTC(w.year, w.month - 1, w.day)).getUTCDay() + 6) % 7;
    return {
      startMs: startOfLocalDay(w.year, w.month, w.day - weekday, timeZone),
      endMs: startOfLocalDay(w.year, w.month, w.day - weekday + 7, timeZone),
    };
  }
  return {
    startMs: startOfLocalDay(w.year, w.month, 1, timeZone),
    endMs: startOfLocalDay(w.year, w.month + 1, 1, timeZone),
  };
}
