import { describe, expect, it } from "vitest";
import { QuotaLedger } from "./quota-ledger";

describe("the quota ledger", () => {
  it("counts per subject and period; a newer period starts at zero", () => {
    const ledger = QuotaLedger.create(64);
    const row = ledger.open("user:alice", 1000);
    expect(ledger.add(row, 500)).toBe(0);
    expect(ledger.add(row, 250)).toBe(500);
    expect(ledger.open("user:alice", 1000)).toBe(row);
    expect(ledger.usage("user:alice")).toEqual({ periodStartMs: 1000, bytes: 750 });
    expect(ledger.usage("user:bob")).toBeNull();
    // An earlier start (the period changed from a day to its month) keeps the count.
    ledger.open("user:alice", 500);
    expect(ledger.usage("user:alice")).toEqual({ periodStartMs: 500, bytes: 750 });
    ledger.open("user:alice", 2000);
    expect(ledger.usage("user:alice")).toEqual({ periodStartMs: 2000, bytes: 0 });
  });

  it("holds the fleet's count for one period only, and a reset clears both counts", () => {
    const ledger = QuotaLedger.create(64);
    const row = ledger.open("group:dev", 1000);
    ledger.setFleetVerdicts([
      { subject: "group:dev", periodStartMs: 1000, othersBytes: 4000, exhausted: false },
    ]);
    expect(ledger.elsewhere(row, 1000)).toBe(4000);
    expect(ledger.elsewhere(row, 2000)).toBe(0);
    ledger.markFleetSpent([{ subject: "group:dev", periodStartMs: 1000 }]);
    expect(ledger.elsewhere(row, 1000)).toBe(Number.MAX_SAFE_INTEGER);
    ledger.add(row, 10);
    ledger.reset("group:dev");
    expect(ledger.used(row)).toBe(0);
    expect(ledger.elsewhere(row, 1000)).toBe(0);
  });

  it("refuses a subject beyond its rows rather than sharing one", () => {
    const ledger = QuotaLedger.create(2);
    expect(ledger.open("user:a", 1)).toBeGreaterThanOrEqual(0);
    expect(ledger.open("user:b", 1)).toBeGreaterThanOrEqual(0);
    expect(ledger.open("user:c", 1)).toBe(-1);
  });

  it("counts past 2^32 bytes (64-bit counters)", () => {
    const ledger = QuotaLedger.create(64);
    const row = ledger.open("user:alice", 1);
    for (let i = 0; i < 3; i++) ledger.add(row, 2 ** 31);
    expect(ledger.used(row)).toBe(3 * 2 ** 31);
  });
});
