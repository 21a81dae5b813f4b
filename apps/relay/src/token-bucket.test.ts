import { describe, expect, it } from "vitest";
import { TokenBucket } from "./token-bucket";

describe("TokenBucket", () => {
  it("starts full, refills at its rate and never beyond its burst", () => {
    const bucket = new TokenBucket(1000, 500, 0);
    expect(bucket.tokens(0)).toBe(500);
    bucket.take(500, 0);
    expect(bucket.tokens(0)).toBe(0);
    expect(bucket.tokens(250)).toBe(250);
    expect(bucket.tokens(10_000)).toBe(500);
  });

  it("goes into debt for a chunk larger than its balance and pays it back at its rate", () => {
    const bucket = new TokenBucket(1000, 100, 0);
    bucket.take(1100, 0);
    expect(bucket.tokens(0)).toBe(-1000);
    expect(bucket.msUntilAbove(0, 0)).toBeCloseTo(1001, 6);
    expect(bucket.tokens(1000)).toBe(0);
    expect(bucket.msUntilAbove(0, 1000)).toBeCloseTo(1, 6);
    expect(bucket.msUntilAbove(0, 1001)).toBe(0);
  });

  it("answers 0 ms when the balance is already above the floor", () => {
    const bucket = new TokenBucket(1000, 100, 0);
    expect(bucket.msUntilAbove(0, 0)).toBe(0);
    expect(bucket.msUntilAbove(-50, 0)).toBe(0);
    bucket.take(200, 0);
    expect(bucket.msUntilAbove(-200, 0)).toBe(0);
    expect(bucket.msUntilAbove(0, 0)).toBeCloseTo(101, 6);
  });

  it("keeps its balance across a reconfiguration, capped at the new burst", () => {
    const bucket = new TokenBucket(1000, 1000, 0);
    bucket.reconfigure(10, 300, 0);
    expect(bucket.tokens(0)).toBe(300);
    bucket.take(300, 0);
    expect(bucket.tokens(1000)).toBe(10);
    expect(bucket.rateBytesPerSec).toBe(10);
    expect(bucket.burstBytes).toBe(300);
  });

  it("ignores a clock that goes backwards", () => {
    const bucket = new TokenBucket(1000, 1000, 100);
    bucket.take(1000, 100);
    expect(bucket.tokens(50)).toBe(0);
    expect(bucket.tokens(200)).toBe(100);
  });
});
