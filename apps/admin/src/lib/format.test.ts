import { describe, expect, it } from "vitest";
import { fillSeries, niceTicks } from "./chart-scale";
import { toCsv } from "./csv";
import {
  formatAgo,
  formatBytes,
  formatCompact,
  formatDuration,
  formatEndpoint,
  formatPercent,
} from "./format";

describe("format", () => {
  it.each([
    [0, "0 B"],
    [1023, "1023 B"],
    [1536, "1.50 KiB"],
    [10 * 1024 ** 2, "10.0 MiB"],
    [300 * 1024 ** 3, "300 GiB"],
  ])("formatBytes(%d) = %s", (bytes, text) => {
    expect(formatBytes(bytes)).toBe(text);
  });

  it("formats durations, ages, percentages, endpoints", () => {
    expect(formatDuration(450)).toBe("450 ms");
    expect(formatDuration(3_723_000)).toBe("1h 2m");
    expect(formatDuration(65_000)).toBe("1m 5s");
    expect(formatAgo(null, 0)).toBe("never");
    expect(formatAgo("2030-01-01T00:00:00Z", Date.parse("2030-01-01T00:03:00Z"))).toBe("3 min ago");
    expect(formatPercent(1, 3)).toBe("33%");
    expect(formatPercent(0, 0)).toBe("0%");
    expect(formatEndpoint("::1", 80)).toBe("[::1]:80");
    expect(formatCompact(12_345)).toBe("12k");
  });
});

describe("charts", () => {
  it("niceTicks covers the maximum with round steps", () => {
    expect(niceTicks(0)).toEqual([0, 1]);
    expect(niceTicks(7)).toEqual([0, 2, 4, 6, 8]);
    expect(niceTicks(100)).toEqual([0, 50, 100]);
    expect(niceTicks(0.3)).toEqual([0, 0.1, 0.2, 0.3]);
  });

  it("fillSeries fills quiet buckets with zeros", () => {
    const filled = fillSeries([{ at: "2030-01-01T00:02:00.000Z", n: 5 }], {
      fromMs: Date.parse("2030-01-01T00:00:30Z"),
      toMs: Date.parse("2030-01-01T00:03:10Z"),
      bucketMs: 60_000,
      zero: (at) => ({ at, n: 0 }),
    });
    expect(filled.map((p) => p.n)).toEqual([0, 0, 5, 0]);
  });
});

describe("csv", () => {
  it("quotes what needs quoting and defuses formulas", () => {
    const csv = toCsv(
      [
        { header: "user", value: (r: { user: string; bytes: number }) => r.user },
        { header: "bytes", value: (r) => r.bytes },
      ],
      [
        { user: 'a,"b"', bytes: 1 },
        { user: "=cmd()", bytes: -2 },
      ],
    );
    expect(csv).toBe('user,bytes\r\n"a,""b""",1\r\n\'=cmd(),-2\r\n');
  });
});
