/**
 * Time windows for rules (3proxy's weekdays and HH:MM:SS-HH:MM:SS are the reference):
 * `days` are `mon`..`sun` or ranges (`mon-fri`, wrapping `fri-mon`); `times` are
 * `HH:MM[:SS]-HH:MM[:SS]`, start included, end excluded, `24:00` allowed as an end; a window whose
 * end is before its start crosses midnight and belongs to the day it starts on. The wall clock is
 * the rule's IANA `timezone` (UTC by default), DST included.
 */

export interface ScheduleSpec {
  /** @default every day */
  days?: readonly string[] | undefined;
  /** @default the whole day */
  times?: readonly string[] | undefined;
  /** IANA zone. @default "UTC" */
  timezone?: string | undefined;
}

/** One window in seconds since local midnight; `end < start` crosses midnight. */
interface Window {
  readonly start: number;
  readonly end: number;
}

export interface ParsedSchedule {
  /** Bit n set: day n (0 = Sunday) is in the schedule. */
  readonly days: number;
  readonly windows: readonly Window[];
  readonly timezone: string;
}

export type ScheduleResult =
  | { ok: true; schedule: ParsedSchedule }
  | { ok: false; field: string; path: (string | number)[]; error: string };

const DAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];
const DAY_SECONDS = 86_400;
const ALL_DAYS = 0b111_1111;

function parseDays(spec: string): number | string {
  const [first, last, extra] = spec.toLowerCase().split("-");
  const from = DAYS.indexOf(first ?? "");
  const to = last === undefined ? from : DAYS.indexOf(last);
  if (extra !== undefined || from < 0 || to < 0) {
    return `"${spec}" is not a day: use mon, tue, wed, thu, fri, sat, sun or a range like mon-fri`;
  }
  let bits = 0;
  for (let day = from; ; day = (day + 1) % 7) {
    bits |= 1 << day;
    if (day === to) return bits;
  }
}

function parseClock(text: string, isEnd: boolean): number | null {
  const match = /^(\d{2}):(\d{2})(?::(\d{2}))?$/.exec(text);
  if (!match) return null;
  const [h, m, s] = [Number(match[1]), Number(match[2]), Number(match[3] ?? 0)];
  if (isEnd && h === 24 && m === 0 && s === 0) return DAY_SECONDS;
  if (h > 23 || m > 59 || s > 59) return null;
  return h * 3600 + m * 60 + s;
}

function parseWindow(spec: string): Window | string {
  const parts = spec.split("-");
  const start = parts.length === 2 ? parseClock(parts[0]!, false) : null;
  const end = parts.length === 2 ? parseClock(parts[1]!, true) : null;
  if (start === null || end === null) {
    return `"${spec}" is not a time window: use HH:MM-HH:MM or HH:MM:SS-HH:MM:SS (00:00 to 24:00)`;
  }
  if (start === end) return `"${spec}" is empty: start and end are the same time`;
  if (end === DAY_SECONDS && start === 0) return { start, end };
  return { start, end: end === DAY_SECONDS ? 0 : end };
}

// Building an Intl.DateTimeFormat costs ~50 µs: 10,000 scheduled rules in one zone would spend
// half a second of every policy change on asking the same question. Bounded: names are input.
const zoneAnswers = new Map<string, boolean>();
const MAX_ZONE_ANSWERS = 1000;

/** True when the runtime knows `zone` as an IANA time zone. */
export function isTimeZone(zone: string): boolean {
  const known = zoneAnswers.get(zone);
  if (known !== undefined) return known;
  let answer: boolean;
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: zone });
    answer = zone.length > 0;
  } catch {
    answer = false;
  }
  if (zoneAnswers.size >= MAX_ZONE_ANSWERS) zoneAnswers.clear();
  zoneAnswers.set(zone, answer);
  return answer;
}

/** Parses a rule's schedule; the error names the field (`days[1]`, `times[0]`, `timezone`). */
export function parseSchedule(spec: ScheduleSpec): ScheduleResult {
  let days = spec.days === undefined ? ALL_DAYS : 0;
  for (const [i, day] of (spec.days ?? []).entries()) {
    const bits = parseDays(day);
    if (typeof bits === "string")
      return { ok: false, field: `days[${i}]`, path: ["days", i], error: bits };
    days |= bits;
  }
  if (days === 0) return { ok: false, field: "days", path: ["days"], error: "names no day" };
  const windows: Window[] = [];
  for (const [i, time] of (spec.times ?? ["00:00-24:00"]).entries()) {
    const window = parseWindow(time);
    if (typeof window === "string")
      return { ok: false, field: `times[${i}]`, path: ["times", i], error: window };
    windows.push(window);
  }
  if (windows.length === 0) {
    return { ok: false, field: "times", path: ["times"], error: "names no window" };
  }
  const timezone = spec.timezone ?? "UTC";
  if (!isTimeZone(timezone)) {
    return {
      ok: false,
      field: "timezone",
      path: ["timezone"],
      error: `"${timezone}" is not an IANA time zone (e.g. "Europe/Berlin", "UTC")`,
    };
  }
  return { ok: true, schedule: { days, windows, timezone } };
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(zone: string): Intl.DateTimeFormat {
  let format = formatters.get(zone);
  if (!format) {
    format = new Intl.DateTimeFormat("en-US", {
      timeZone: zone,
      hourCycle: "h23",
      year: "numeric",
      month: "numeric",
      day: "numeric",
      hour: "numeric",
      minute: "numeric",
      second: "numeric",
    });
    formatters.set(zone, format);
  }
  return format;
}

/** The wall clock of `zone` at instant `ms`, as milliseconds of the same wall time in UTC. */
function wallClock(zone: string, ms: number): number {
  const fields: Record<string, number> = {};
  for (const part of formatter(zone).formatToParts(ms)) {
    if (part.type !== "literal") fields[part.type] = Number(part.value);
  }
  const { year, month, day, hour, minute, second } = fields as Record<string, number>;
  return Date.UTC(year!, month! - 1, day!, hour!, minute!, second!);
}

/**
 * A schedule ready for the hot path: isActive() answers from a cached state until the next
 * instant the state flips, so a request pays no time-zone work except right after a boundary.
 */
export class CompiledSchedule {
  #active = false;
  /** The cached state holds for now in [#from, #until). */
  #from = Number.POSITIVE_INFINITY;
  #until = Number.NEGATIVE_INFINITY;

  constructor(readonly spec: ParsedSchedule) {}

  isActive(nowMs: number): boolean {
    if (nowMs < this.#from || nowMs >= this.#until) this.#recompute(nowMs);
    return this.#active;
  }

  /** The instant (ms) after `nowMs` at which isActive() next changes. */
  nextBoundary(nowMs: number): number {
    if (nowMs < this.#from || nowMs >= this.#until) this.#recompute(nowMs);
    return this.#until;
  }

  /** The state from the wall clock, no cache. */
  activeAt(ms: number): boolean {
    const wall = wallClock(this.spec.timezone, ms);
    const seconds = Math.floor(wall / 1000) % DAY_SECONDS;
    const day = new Date(wall).getUTCDay();
    const today = (this.spec.days >> day) & 1;
    const yesterday = (this.spec.days >> ((day + 6) % 7)) & 1;
    for (const { start, end } of this.spec.windows) {
      if (start < end || end === 0) {
        if (today && seconds >= start && (end === 0 || seconds < end)) return true;
      } else if ((today && seconds >= start) || (yesterday && seconds < end)) return true;
    }
    return false;
  }

  #recompute(nowMs: number): void {
    const now = Math.floor(nowMs / 1000) * 1000;
    const active = this.activeAt(now);
    const zone = this.spec.timezone;
    const midnight = Math.floor(wallClock(zone, now) / 86_400_000) * 86_400_000;
    // Every wall time a window starts or ends at over the next 8 days, as instants: each with the
    // offset before and after it, so a time repeated or skipped by a DST change is covered.
    const candidates: number[] = [];
    for (let d = 0; d <= 8; d++) {
      for (const { start, end } of this.spec.windows) {
        for (const seconds of [start, end]) {
          const wall = midnight + d * 86_400_000 + seconds * 1000;
          for (const probe of [wall - 14 * 3_600_000, wall + 14 * 3_600_000]) {
            const instant = wall - (wallClock(zone, probe) - probe);
            if (instant > now) candidates.push(instant);
          }
        }
      }
    }
    candidates.sort((a, b) => a - b);
    let same = now;
    let until = now + 7 * 86_400_000;
    for (const candidate of candidates) {
      if (this.activeAt(candidate) === active) {
        same = Math.max(same, candidate);
        continue;
      }
      until = this.#firstFlip(same, candidate, active);
      break;
    }
    this.#active = active;
    this.#from = now;
    this.#until = until;
  }

  /** The first whole second in (same, flipped] whose state is not `active`. */
  #firstFlip(same: number, flipped: number, active: boolean): number {
    let low = same;
    let high = flipped;
    while (high - low > 1000) {
      const mid = low + Math.floor((high - low) / 2000) * 1000;
      if (this.activeAt(mid) === active) low = mid;
      else high = mid;
    }
    return high;
  }
}
