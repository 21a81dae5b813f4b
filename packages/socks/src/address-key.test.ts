import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { addressKey, networkKeyRange as cidrKeyRange } from "./address-text";

describe("addressKey / cidrKeyRange", () => {
  it("maps IPv4 into the IPv6 space and keeps order", () => {
    expect(addressKey("10.0.0.1")).toBe("00000000000000000000ffff0a000001");
    expect(addressKey("::ffff:10.0.0.1")).toBe(addressKey("10.0.0.1"));
    expect(addressKey("example.com")).toBeNull();
  });

  it("turns a CIDR into an inclusive range that contains exactly its addresses", () => {
    const range = cidrKeyRange("10.1.0.0/16")!;
    const inside = addressKey("10.1.255.7")!;
    const outside = addressKey("10.2.0.0")!;
    expect(inside >= range.low && inside <= range.high).toBe(true);
    expect(outside >= range.low && outside <= range.high).toBe(false);
    const v6 = cidrKeyRange("2001:db8::/32")!;
    const a = addressKey("2001:db8:1::5")!;
    expect(a >= v6.low && a <= v6.high).toBe(true);
    expect(cidrKeyRange("1.2.3.4")).toEqual({
      low: addressKey("1.2.3.4"),
      high: addressKey("1.2.3.4"),
      prefixBits: 128,
    });
    expect(cidrKeyRange("not-an-ip")).toBeNull();
  });
});

describe("addressKey's dotted-quad shortcut", () => {
  it("keys every IPv4 address as its IPv4-mapped form, and the rest through the full parser", () => {
    fc.assert(
      fc.property(fc.ipV4(), (address) => {
        expect(addressKey(address)).toBe(addressKey(`::ffff:${address}`));
      }),
    );
    expect(addressKey("2001:db8::1")).toBe("20010db8000000000000000000000001");
    for (const address of ["010.0.0.1", "0x7f.0.0.1", "bad", null]) {
      expect(addressKey(address)).toBeNull();
    }
  });
});
