import { describe, expect, it } from "vitest";
import { RouteHealth } from "./route-health";

describe("RouteHealth", () => {
  const options = (nowMs: number) => ({ maxFails: 2, failTimeoutMs: 1000, nowMs });

  it("marks a hop down after maxFails failures in a row, for failTimeoutMs", () => {
    const health = new RouteHealth();
    expect(health.failed("a", options(0))).toBe(false);
    expect(health.isDown("a", 0)).toBe(false);
    expect(health.failed("a", options(10))).toBe(true);
    expect(health.isDown("a", 500)).toBe(true);
    expect(health.isDown("a", 1010)).toBe(false);
    expect(health.isDown("b", 500)).toBe(false);
  });

  it("forgets failures after a success", () => {
    const health = new RouteHealth();
    health.failed("a", options(0));
    health.succeeded("a");
    expect(health.failed("a", options(1))).toBe(false);
  });
});
