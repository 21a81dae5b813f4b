import { describe, expect, it } from "vitest";
import { AuthLimiter } from "./auth-limiter";

describe("AuthLimiter", () => {
  it("limits an address after maxFailures within the window, and forgets them after it", () => {
    const limiter = new AuthLimiter({ maxFailures: 3, windowMs: 1000 });
    for (let i = 0; i < 3; i++) {
      expect(limiter.isLimited("1.2.3.4", 100)).toBe(false);
      limiter.recordFailure("1.2.3.4", 100 + i);
    }
    expect(limiter.isLimited("1.2.3.4", 200)).toBe(true);
    expect(limiter.isLimited("5.6.7.8", 200)).toBe(false);
    expect(limiter.isLimited("1.2.3.4", 1200)).toBe(false);
  });
});
