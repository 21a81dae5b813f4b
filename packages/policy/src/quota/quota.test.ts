import { describe, expect, it } from "vitest";
import { Quota, TimeZone } from "./quota";

describe("quota settings", () => {
  it("fills direction total and onExhaust close", () => {
    expect(Quota.parse({ bytes: 1000, period: "day" })).toEqual({
      bytes: 1000,
      period: "day",
      direction: "total",
      onExhaust: "close",
    });
  });

  it("refuses throttle without a rate and a rate without throttle", () => {
    const noRate = Quota.safeParse({ bytes: 1, period: "day", onExhaust: "throttle" });
    expect(noRate.error?.issues[0]?.message).toMatch(/needs throttleBytesPerSec/);
    const stray = Quota.safeParse({ bytes: 1, period: "day", throttleBytesPerSec: 10 });
    expect(stray.error?.issues[0]?.message).toMatch(/only meaningful with onExhaust "throttle"/);
  });

  it("refuses unknown keys, periods and zero bytes", () => {
    expect(Quota.safeParse({ bytes: 1, period: "day", limit: 3 }).success).toBe(false);
    expect(Quota.safeParse({ bytes: 1, period: "year" }).success).toBe(false);
    expect(Quota.safeParse({ bytes: 0, period: "day" }).success).toBe(false);
  });

  it("knows IANA zones and names an unknown one", () => {
    expect(TimeZone.safeParse("Europe/Berlin").success).toBe(true);
    const bad = TimeZone.safeParse("Mars/Olympus");
    expect(bad.error?.issues[0]?.message).toMatch(/unknown time zone "Mars\/Olympus"/);
  });
});
