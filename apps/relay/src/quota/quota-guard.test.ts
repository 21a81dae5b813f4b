import { periodWindow, rollingBucketMs } from "@edgesocks/policy";
import { afterEach, describe, expect, it } from "vitest";
import { createRelayMetrics } from "../metrics";
import { QuotaGuard } from "./quota-guard";
import { QuotaLedger } from "./quota-ledger";
import { ledgerKey, type QuotaRule } from "./quota-rules";

const rule = (over: Partial<QuotaRule> = {}): QuotaRule => ({
  subject: "user:alice",
  bytes: 1000,
  period: "rolling_24h",
  timeZone: "UTC",
  up: true,
  down: true,
  throttleBytesPerSec: undefined,
  ...over,
});

const guards: QuotaGuard[] = [];
function guard(ledger = QuotaLedger.create(256)): QuotaGuard {
  const made = new QuotaGuard({ ledger, metrics: createRelayMetrics() });
  guards.push(made);
  return made;
}
afterEach(() => {
  for (const g of guards.splice(0)) g.close();
});

/** Counts `bytes` into the bucket `hoursAgo` back, as a session then would have. */
function spend(ledger: QuotaLedger, r: QuotaRule, hoursAgo: number, bytes: number): void {
  const start = periodWindow(r.period, r.timeZone, Date.now()).startMs - hoursAgo * 3_600_000;
  ledger.add(ledger.open(ledgerKey(r, start), start), bytes);
}

describe("quota guard", () => {
  it("sums a rolling window's buckets: 23 hours ago still counts, 24 hours ago no longer", () => {
    const ledger = QuotaLedger.create(256);
    const g = guard(ledger);
    const r = rule();
    expect(rollingBucketMs("rolling_24h")).toBe(3_600_000);
    spend(ledger, r, 24, 900); // aged out: its bucket row is the one now in progress, reset
    expect(g.spent([r])).toBeNull();
    spend(ledger, r, 23, 600);
    spend(ledger, r, 5, 300);
    expect(g.spent([r])).toBeNull();
    spend(ledger, r, 0, 100);
    expect(g.spent([r])).toBe("user:alice");
  });

  it("a session's chunks stop at the quota: the crossing chunk goes, the next does not", () => {
    const g = guard();
    const r = rule({ period: "day", bytes: 1000 });
    let closed = 0;
    const meter = g.attach([r], () => closed++);
    expect(meter.charge(true, 600)).toBe(true);
    expect(meter.charge(false, 600)).toBe(true); // crosses: 1200 counted
    expect(meter.charge(true, 10)).toBe(false); // spent before it: refused, not counted
    expect(g.ledger.usage("user:alice")?.bytes).toBe(1200);
    expect(closed).toBe(1);
  });

  it("counts only its direction, and adds the fleet's count of other relays", () => {
    const ledger = QuotaLedger.create(256);
    const g = guard(ledger);
    const r = rule({ period: "week", up: false, down: true });
    const meter = g.attach([r], () => {});
    expect(meter.charge(true, 5000)).toBe(true);
    expect(ledger.usage("user:alice")?.bytes).toBe(0);
    const start = periodWindow("week", "UTC", Date.now()).startMs;
    ledger.setFleetVerdicts([
      { subject: "user:alice", periodStartMs: start, othersBytes: 990, exhausted: false },
    ]);
    expect(g.spent([r])).toBeNull();
    expect(meter.charge(false, 20)).toBe(true);
    expect(g.spent([r])).toBe("user:alice");
  });
});
