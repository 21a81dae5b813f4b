import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { bucketsOf, grainsForSeries, planWindow } from "./stats-window";

const GRAINS = [60_000, 3_600_000, 86_400_000];

describe("planWindow", () => {
  it("covers [from, to) exactly once with aligned buckets and at most two raw edges", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: -10 * 86_400_000, max: 10 * 86_400_000 }),
        fc.integer({ min: 0, max: 9 * 86_400_000 }),
        fc.subarray(GRAINS, { minLength: 0 }),
        (fromMs, length, grains) => {
          const toMs = fromMs + length;
          const plan = planWindow(fromMs, toMs, grains);
          const spans: [number, number][] = [...plan.raw];
          for (const piece of plan.pieces) {
            expect(grains).toContain(piece.grainMs);
            expect(piece.fromMs % piece.grainMs === 0).toBe(true);
            expect(piece.toMs % piece.grainMs === 0).toBe(true);
            expect(piece.fromMs).toBeLessThan(piece.toMs);
            spans.push([piece.fromMs, piece.toMs]);
          }
          spans.sort((a, b) => a[0] - b[0]);
          let at = fromMs;
          for (const [a, b] of spans) {
            expect(a).toBe(at);
            expect(b).toBeGreaterThan(a);
            at = b;
          }
          expect(at).toBe(length === 0 ? fromMs : toMs);
          expect(plan.raw.length).toBeLessThanOrEqual(2);
          // Each raw edge is shorter than the finest grain (when there is one).
          if (grains.length > 0 && plan.pieces.length > 0) {
            for (const [a, b] of plan.raw) expect(b - a).toBeLessThan(grains[0]!);
          }
        },
      ),
    );
  });

  it("uses the coarsest grains in the middle of a window", () => {
    const from = Date.parse("2030-01-01T22:59:30Z");
    const to = Date.parse("2030-01-04T01:00:10Z");
    const plan = planWindow(from, to, GRAINS);
    expect(plan.raw).toEqual([
      [from, from + 30_000],
      [to - 10_000, to],
    ]);
    expect(plan.pieces.map((p) => [p.grainMs, (p.toMs - p.fromMs) / p.grainMs])).toEqual([
      [3_600_000, 1], // 23:00–24:00 on the 1st
      [3_600_000, 1], // 00:00–01:00 on the 4th
      [86_400_000, 2], // the 2nd and the 3rd
    ]);
    expect(bucketsOf(plan.pieces[2]!)).toEqual([
      Date.parse("2030-01-02T00:00:00Z"),
      Date.parse("2030-01-03T00:00:00Z"),
    ]);
  });
});

describe("grainsForSeries", () => {
  it("keeps the grains whose buckets fit in one series bucket", () => {
    expect(grainsForSeries(GRAINS, 900_000)).toEqual([60_000]);
    expect(grainsForSeries(GRAINS, 6 * 3_600_000)).toEqual([60_000, 3_600_000]);
    expect(grainsForSeries(GRAINS, 7 * 86_400_000)).toEqual(GRAINS);
    expect(grainsForSeries(GRAINS, 90_000)).toEqual([]);
  });
});
