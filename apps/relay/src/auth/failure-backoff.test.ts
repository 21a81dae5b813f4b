import { describe, expect, it } from "vitest";
import { FailureBackoff } from "./failure-backoff";

describe("FailureBackoff", () => {
  it("slows one address down whatever usernames it tries", () => {
    const backoff = new FailureBackoff({ freeFailures: 2, baseDelayMs: 100, maxDelayMs: 1000 });
    const delays = ["a", "b", "c", "d", "e", "f"].map((user) => {
      const before = backoff.delayBefore("ip:10.0.0.1", `user:${user}`);
      backoff.fail("ip:10.0.0.1", `user:${user}`);
      return before;
    });
    expect(delays).toEqual([0, 0, 0, 100, 200, 400]);
    expect(backoff.delayBefore("ip:10.0.0.2", "user:zed")).toBe(0);
  });

  it("slows one username down whatever addresses the guesses come from", () => {
    const backoff = new FailureBackoff({ freeFailures: 2, baseDelayMs: 100, maxDelayMs: 1000 });
    for (let i = 1; i <= 4; i++) backoff.fail(`ip:10.0.0.${i}`, "user:alice");
    expect(backoff.delayBefore("ip:10.9.9.9", "user:alice")).toBe(200);
    expect(backoff.delayBefore("ip:10.9.9.9", "user:bob")).toBe(0);
  });

  it("caps the delay, and a success clears the address but not the username", () => {
    const backoff = new FailureBackoff({ freeFailures: 0, baseDelayMs: 100, maxDelayMs: 300 });
    for (let i = 0; i < 10; i++) backoff.fail("ip:10.0.0.1", "user:alice");
    expect(backoff.delayBefore("ip:10.0.0.1")).toBe(300);
    backoff.succeed("ip:10.0.0.1");
    expect(backoff.delayBefore("ip:10.0.0.1")).toBe(0);
    expect(backoff.delayBefore("user:alice")).toBe(300);
  });

  it("forgets a key after a quiet period", async () => {
    const backoff = new FailureBackoff({ freeFailures: 0, forgetAfterMs: 30 });
    backoff.fail("ip:10.0.0.1");
    expect(backoff.delayBefore("ip:10.0.0.1")).toBeGreaterThan(0);
    await new Promise((r) => setTimeout(r, 60));
    expect(backoff.delayBefore("ip:10.0.0.1")).toBe(0);
  });
});
