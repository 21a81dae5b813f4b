import { describe, expect, it } from "vitest";
import { AuthLimiter, limiterKey } from "./auth-limiter";

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

describe("limiterKey", () => {
  it("keys IPv4 (also IPv4-mapped) by address and IPv6 by its /64", () => {
    expect(limiterKey("::ffff:192.0.2.1")).toBe("192.0.2.1");
    expect(limiterKey("2001:db8:a:b:1:2:3:4")).toBe(limiterKey("2001:db8:a:b::9"));
    expect(limiterKey("2001:db8:a:b::9")).not.toBe(limiterKey("2001:db8:a:c::9"));
    expect(limiterKey("prefix:ese_abc")).toBe("prefix:ese_abc");
  });
});
