import { describe, expect, it } from "vitest";
import { rejectedRecord, type SessionRecord } from "./record";
import { isAggregatedRejection, RejectionAggregator } from "./rejection-aggregator";

const node = { name: "n", region: "r" };
const rejection = (reason: string, clientAddress: string) =>
  rejectedRecord({ reason, clientAddress, clientPort: 1, transport: "tcp", node });

describe("RejectionAggregator", () => {
  it("bounds a flood from many addresses to maxKeys pairs a window and counts the rest", () => {
    const emitted: SessionRecord[] = [];
    let dropped = 0;
    const aggregator = new RejectionAggregator({
      emit: (r) => emitted.push(r),
      onDrop: (n) => (dropped += n),
      maxKeys: 2,
    });
    for (let i = 0; i < 10; i++) aggregator.add(rejection("handshake_timeout", `10.0.0.${i % 4}`));
    // Two keys admitted, their first records out at once; 10.0.0.2 and .3 over the limit.
    expect(emitted.map((r) => r.clientAddress)).toEqual(["10.0.0.0", "10.0.0.1"]);
    aggregator.close();
    expect(emitted.map((r) => [r.clientAddress, r.count ?? 1])).toEqual([
      ["10.0.0.0", 1],
      ["10.0.0.1", 1],
      ["10.0.0.0", 2],
      ["10.0.0.1", 2],
    ]);
    expect(dropped).toBe(4);
  });

  it("folds only connections refused before a request, not auth failures or sessions", () => {
    expect(isAggregatedRejection(rejection("max_connections", "10.0.0.1"))).toBe(true);
    expect(isAggregatedRejection(rejection("protocol_error:SOCKS_E_BAD_VERSION", "h"))).toBe(true);
    expect(isAggregatedRejection(rejection("auth_failed", "10.0.0.1"))).toBe(false);
    expect(
      isAggregatedRejection({ ...rejection("handshake_timeout", "h"), command: "connect" }),
    ).toBe(false);
  });
});
