import { describe, expect, it } from "vitest";
import { CompiledSchedule, isTimeZone, parseSchedule, type ScheduleSpec } from "./schedule";

function compiled(spec: ScheduleSpec): CompiledSchedule {
  const parsed = parseSchedule(spec);
  if (!parsed.ok) throw new Error(`${parsed.field}: ${parsed.error}`);
  return new CompiledSchedule(parsed.schedule);
}

const at = (iso: string) => Date.parse(iso);
const iso = (ms: number) => new Date(ms).toISOString();

describe("parseSchedule", () => {
  it("refuses malformed days, times and zones, naming the field", () => {
    const error = (spec: ScheduleSpec) => {
      const parsed = parseSchedule(spec);
      return parsed.ok ? null : `${parsed.field}: ${parsed.error}`;
    };
    expect(error({ days: ["mon", "funday"] })).toMatch(/^days\[1\]: "funday" is not a day/);
    expect(error({ days: ["mon-fri-sat"] })).toMatch(/^days\[0\]/);
    expect(error({ times: ["9:00-17:00"] })).toMatch(
      /^times\[0\]: "9:00-17:00" is not a time window/,
    );
    expect(error({ times: ["09:00-25:00"] })).toMatch(/^times\[0\]/);
    expect(error({ times: ["09:60-10:00"] })).toMatch(/^times\[0\]/);
    expect(error({ times: ["24:00-10:00"] })).toMatch(/^times\[0\]/);
    expect(error({ times: ["10:00-10:00"] })).toMatch(/^times\[0\]: "10:00-10:00" is empty/);
    expect(error({ times: ["10:00"] })).toMatch(/^times\[0\]/);
    expect(error({ timezone: "Mars/Olympus" })).toMatch(
      /^timezone: "Mars\/Olympus" is not an IANA/,
    );
    expect(error({ days: ["Mon-Fri"], times: ["09:00:30-17:30:15", "22:00-24:00"] })).toBeNull();
  });

  it("answers a time zone the same when asked again (the answers are cached)", () => {
    for (let i = 0; i < 3; i++) {
      expect(isTimeZone("Europe/Berlin")).toBe(true);
      expect(isTimeZone("Mars/Olympus")).toBe(false);
      expect(isTimeZone("")).toBe(false);
    }
    // More distinct names than the cache holds: still right for each.
    for (let i = 0; i < 1500; i++) expect(isTimeZone(`Nowhere/Zone${i}`)).toBe(false);
    expect(isTimeZone("America/New_York")).toBe(true);
  });
});

describe("CompiledSchedule", () => {
  it("is active on the listed days inside the window, end excluded", () => {
    const s = compiled({ days: ["mon-fri"], times: ["09:00-17:30"] });
    // 2025-06-02 is a Monday.
    expect(s.activeAt(at("2025-06-02T08:59:59Z"))).toBe(false);
    expect(s.activeAt(at("2025-06-02T09:00:00Z"))).toBe(true);
    expect(s.activeAt(at("2025-06-02T17:29:59Z"))).toBe(true);
    expect(s.activeAt(at("2025-06-02T17:30:00Z"))).toBe(false);
    expect(s.activeAt(at("2025-06-07T10:00:00Z"))).toBe(false); // Saturday
  });

  it("crosses midnight: the window belongs to the day it starts on", () => {
    const s = compiled({ days: ["fri"], times: ["22:00-06:00"] });
    expect(s.activeAt(at("2025-06-06T21:59:59Z"))).toBe(false); // Friday
    expect(s.activeAt(at("2025-06-06T23:00:00Z"))).toBe(true);
    expect(s.activeAt(at("2025-06-07T05:59:59Z"))).toBe(true); // Saturday morning
    expect(s.activeAt(at("2025-06-07T06:00:00Z"))).toBe(false);
    expect(s.activeAt(at("2025-06-07T23:00:00Z"))).toBe(false); // Saturday night
    expect(s.activeAt(at("2025-06-06T03:00:00Z"))).toBe(false); // Friday morning: Thursday's
  });

  it("precomputes the next boundary and answers from it until then", () => {
    const s = compiled({ days: ["mon-fri"], times: ["09:00-17:30"] });
    const now = at("2025-06-02T12:00:00Z");
    expect(s.isActive(now)).toBe(true);
    expect(iso(s.nextBoundary(now))).toBe("2025-06-02T17:30:00.000Z");
    expect(s.isActive(at("2025-06-02T17:29:59.999Z"))).toBe(true);
    expect(s.isActive(at("2025-06-02T17:30:00Z"))).toBe(false);
    // Friday evening: the next start is Monday.
    const friday = at("2025-06-06T18:00:00Z");
    expect(s.isActive(friday)).toBe(false);
    expect(iso(s.nextBoundary(friday))).toBe("2025-06-09T09:00:00.000Z");
    // A clock set back recomputes too.
    expect(s.isActive(at("2025-06-02T10:00:00Z"))).toBe(true);
  });

  it("follows the zone's wall clock across the spring DST switch", () => {
    // Europe/Berlin, 2025-03-30: 02:00 CET jumps to 03:00 CEST.
    const s = compiled({ times: ["09:00-17:00"], timezone: "Europe/Berlin" });
    expect(iso(s.nextBoundary(at("2025-03-29T12:00:00Z")))).toBe("2025-03-29T16:00:00.000Z");
    expect(iso(s.nextBoundary(at("2025-03-29T20:00:00Z")))).toBe("2025-03-30T07:00:00.000Z");
    expect(iso(s.nextBoundary(at("2025-03-30T08:00:00Z")))).toBe("2025-03-30T15:00:00.000Z");
  });

  it("starts a window that begins inside the skipped hour when the clock jumps past it", () => {
    const s = compiled({ days: ["sun"], times: ["02:30-05:00"], timezone: "Europe/Berlin" });
    // 02:30 does not exist that night; 03:00 CEST (01:00Z) is the first instant inside.
    expect(iso(s.nextBoundary(at("2025-03-29T23:00:00Z")))).toBe("2025-03-30T01:00:00.000Z");
    expect(s.isActive(at("2025-03-30T01:00:00Z"))).toBe(true);
    expect(iso(s.nextBoundary(at("2025-03-30T01:00:00Z")))).toBe("2025-03-30T03:00:00.000Z");
  });

  it("ends a window on the autumn DST switch day at the local time", () => {
    // 2025-10-26: 03:00 CEST falls back to 02:00 CET, a 25-hour day.
    const s = compiled({ times: ["22:00-06:00"], timezone: "Europe/Berlin" });
    const evening = at("2025-10-25T20:00:00Z"); // 22:00 CEST
    expect(s.isActive(evening)).toBe(true);
    expect(iso(s.nextBoundary(evening))).toBe("2025-10-26T05:00:00.000Z"); // 06:00 CET
  });

  it("never flips for a schedule that is always on", () => {
    const s = compiled({ times: ["00:00-24:00"] });
    const now = at("2025-06-02T12:00:00Z");
    expect(s.isActive(now)).toBe(true);
    expect(s.nextBoundary(now)).toBeGreaterThan(now + 6 * 86_400_000);
  });
});
