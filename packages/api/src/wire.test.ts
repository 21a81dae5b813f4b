import { describe, expect, it } from "vitest";
import { SessionRecord, sessionId } from "./wire";

describe("sessionId", () => {
  it("is a UUIDv7 of the start time: version 7, RFC 9562 variant, the milliseconds first", () => {
    const startedAtMs = Date.UTC(2026, 11, 3, 12, 0, 0, 123);
    const id = sessionId(startedAtMs);
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(Number.parseInt(id.replaceAll("-", "").slice(0, 12), 16)).toBe(startedAtMs);
    // What the control plane checks a record's id with.
    expect(SessionRecord.shape.id.safeParse(id).success).toBe(true);
  });

  it("sorts by start time, so a relay's ids reach the index in about the order they were made", () => {
    const ids = [0, 1, 999, 1_000_000, Date.now()].map((ms) => sessionId(ms));
    expect([...ids].sort()).toEqual(ids);
  });

  it("differs between sessions started in the same millisecond", () => {
    const ids = new Set(Array.from({ length: 10_000 }, () => sessionId(1_700_000_000_000)));
    expect(ids.size).toBe(10_000);
  });
});
