import { SessionRecord as WireRecord } from "@edgesocks/api/wire";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type SessionRecord, withValidText } from "./record";

const base: SessionRecord = {
  id: "00000000-0000-4000-8000-000000000001",
  node: null,
  region: null,
  user: "alice",
  clientAddress: "127.0.0.1",
  clientPort: 1,
  protocol: "socks5",
  transport: "tls",
  command: null,
  destinationHost: null,
  destinationAddress: null,
  destinationPort: null,
  startedAt: "2030-01-01T00:00:00.000Z",
  endedAt: "2030-01-01T00:00:01.000Z",
  durationMs: 1000,
  bytesUp: 0,
  bytesDown: 0,
  packetsUp: 0,
  packetsDown: 0,
  status: "rejected",
  decision: null,
  ruleId: null,
  closeReason: "auth_failed",
};

describe("withValidText", () => {
  it("makes any text (a certificate CN, a resolver message) a record the control plane accepts", () => {
    fc.assert(
      fc.property(
        fc.string({ unit: "binary", maxLength: 400 }),
        fc.string({
          unit: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)),
          maxLength: 300,
        }),
        (user, reason) => {
          const record = withValidText({
            ...base,
            user,
            closeReason: reason,
            destinationHost: reason,
          });
          expect(WireRecord.safeParse(record).error).toBeUndefined();
        },
      ),
    );
    expect(withValidText({ ...base, user: "a\u0000b\ud800" }).user).toBe("a\ufffdb\ufffd");
    expect(withValidText(base)).toEqual(base);
  });
});
