import { describe, expect, it } from "vitest";
import { ConnectionLimits } from "./connection-limits";

const none = { global: undefined, perUser: undefined, perClient: undefined };

describe("ConnectionLimits", () => {
  it("refuses past each cap with its own reason and admits again once a slot is released", () => {
    const limits = new ConnectionLimits();
    const caps = { global: 3, perUser: 2, perClient: 2 };
    const a1 = limits.acquire("alice", "10.0.0.1", caps);
    const a2 = limits.acquire("alice", "10.0.0.2", caps);
    expect(limits.acquire("alice", "10.0.0.3", caps)).toEqual({
      ok: false,
      reason: "connection_limit_user",
    });
    const b1 = limits.acquire("bob", "10.0.0.1", caps);
    expect(limits.acquire("carol", "10.0.0.9", caps)).toEqual({
      ok: false,
      reason: "connection_limit_global",
    });
    expect(limits.acquire("carol", "10.0.0.1", { ...caps, global: 10 })).toEqual({
      ok: false,
      reason: "connection_limit_client",
    });
    expect([a1.ok, a2.ok, b1.ok]).toEqual([true, true, true]);
    if (a1.ok) a1.release();
    expect(limits.acquire("alice", "10.0.0.3", caps).ok).toBe(true);
  });

  it("counts nothing twice when a slot is released twice, and forgets keys at zero", () => {
    const limits = new ConnectionLimits();
    const slot = limits.acquire("alice", "::1", none);
    expect(limits.global).toBe(1);
    if (!slot.ok) throw new Error("expected a slot");
    slot.release();
    slot.release();
    expect(limits.global).toBe(0);
    expect(limits.user("alice")).toBe(0);
    expect(limits.client("::1")).toBe(0);
  });

  it("treats a cap of 0 as no sessions at all", () => {
    const limits = new ConnectionLimits();
    expect(limits.acquire("alice", "::1", { ...none, perUser: 0 })).toEqual({
      ok: false,
      reason: "connection_limit_user",
    });
  });
});
