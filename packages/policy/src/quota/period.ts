/** A quota period: calendar periods in a time zone. */
export type QuotaPeriod = "day" | "week" | "month";

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

/** The calendar period (in `timeZone`) holding instant `nowMs`. Weeks start on Monday (ISO). */
export function periodWindow(period: QuotaPeriod, timeZone: string, nowMs: number): PeriodWindow {
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
