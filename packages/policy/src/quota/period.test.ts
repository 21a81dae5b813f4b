import { describe, expect, it } from "vitest";
import { countedFromMs, periodWindow, startOfLocalDay } from "./period";

const iso = (ms: number) => new Date(ms).toISOString();
const at = (text: string) => Date.parse(text);

describe("quota periods", () => {
  it("a UTC day runs from midnight to midnight", () => {
    const w = periodWindow("day", "UTC", at("2026-05-17T13:45:00Z"));
    expect(iso(w.startMs)).toBe("2026-05-17T00:00:00.000Z");
    expect(iso(w.endMs)).toBe("2026-05-18T00:00:00.000Z");
  });

  it("a day starts at local midnight in the configured zone, not at UTC midnight", () => {
    // 23:30 UTC on the 17th is already the 18th in Tokyo (UTC+9).
    const w = periodWindow("day", "Asia/Tokyo", at("2026-05-17T23:30:00Z"));
    expect(iso(w.startMs)).toBe("2026-05-17T15:00:00.000Z");
    expect(iso(w.endMs)).toBe("2026-05-18T15:00:00.000Z");
  });

  it("the day clocks spring forward has 23 hours, the day they fall back 25", () => {
    const spring = periodWindow("day", "Europe/Berlin", at("2026-03-29T12:00:00Z"));
    expect(iso(spring.startMs)).toBe("2026-03-28T23:00:00.000Z");
    expect(spring.endMs - spring.startMs).toBe(23 * 3_600_000);
    const fall = periodWindow("day", "Europe/Berlin", at("2026-10-25T12:00:00Z"));
    expect(iso(fall.startMs)).toBe("2026-10-24T22:00:00.000Z");
    expect(fall.endMs - fall.startMs).toBe(25 * 3_600_000);
  });

  it("where midnight does not exist (Chile springs forward at 00:00) the day starts at 01:00", () => {
    // 2026-09-06 00:00 in America/Santiago is skipped: clocks go from 23:59:59 (UTC-4) to 01:00 (UTC-3).
    const start = startOfLocalDay(2026, 9, 6, "America/Santiago");
    expect(iso(start)).toBe("2026-09-06T04:00:00.000Z");
    const w = periodWindow("day", "America/Santiago", at("2026-09-06T15:00:00Z"));
    expect(w.startMs).toBe(start);
    expect(w.endMs - w.startMs).toBe(23 * 3_600_000);
  });

  it("a week starts on Monday, also across a month and a year end", () => {
    // Thursday 2026-12-31 → the week of Monday 2026-12-28.
    const w = periodWindow("week", "UTC", at("2026-12-31T08:00:00Z"));
    expect(iso(w.startMs)).toBe("2026-12-28T00:00:00.000Z");
    expect(iso(w.endMs)).toBe("2027-01-04T00:00:00.000Z");
    // A Monday at 00:00 belongs to the week it starts; Sunday 23:59 to the one before.
    expect(periodWindow("week", "UTC", at("2027-01-04T00:00:00Z")).startMs).toBe(w.endMs);
    expect(periodWindow("week", "UTC", at("2027-01-03T23:59:59Z")).startMs).toBe(w.startMs);
  });

  it("a month in New York spans the DST change and ends at local midnight", () => {
    const w = periodWindow("month", "America/New_York", at("2026-11-15T12:00:00Z"));
    expect(iso(w.startMs)).toBe("2026-11-01T04:00:00.000Z"); // EDT, UTC-4
    expect(iso(w.endMs)).toBe("2026-12-01T05:00:00.000Z"); // EST, UTC-5
    const dec = periodWindow("month", "America/New_York", at("2026-12-31T23:00:00Z"));
    expect(iso(dec.endMs)).toBe("2027-01-01T05:00:00.000Z");
  });

  it("February in a leap year has 29 days", () => {
    const w = periodWindow("month", "UTC", at("2028-02-10T00:00:00Z"));
    expect(w.endMs - w.startMs).toBe(29 * 86_400_000);
  });

  it("a rolling window counts its 24 buckets: the one in progress and the 23 before it", () => {
    const now = at("2026-05-17T13:45:00Z");
    const bucket = periodWindow("rolling_24h", "Europe/Berlin", now);
    expect(iso(bucket.startMs)).toBe("2026-05-17T13:00:00.000Z");
    expect(iso(bucket.endMs)).toBe("2026-05-17T14:00:00.000Z");
    expect(iso(countedFromMs("rolling_24h", "UTC", now))).toBe("2026-05-16T14:00:00.000Z");
    // 7 days in 7-hour buckets, aligned to the epoch whatever the zone.
    const week = periodWindow("rolling_7d", "Asia/Tokyo", now);
    expect(week.endMs - week.startMs).toBe(7 * 3_600_000);
    expect(week.startMs % (7 * 3_600_000)).toBe(0);
    expect(countedFromMs("rolling_30d", "UTC", now)).toBe(
      periodWindow("rolling_30d", "UTC", now).startMs - 23 * 30 * 3_600_000,
    );
  });

  it("a calendar period is counted from its own start", () => {
    const now = at("2026-05-17T13:45:00Z");
    expect(countedFromMs("month", "UTC", now)).toBe(at("2026-05-01T00:00:00Z"));
  });
});
