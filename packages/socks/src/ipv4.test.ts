import { isIPv4 } from "node:net";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { formatIpv4, parseIpv4, writeIpv4 } from "./ipv4";

describe("formatIpv4", () => {
  it("prints dotted decimal at an offset", () => {
    expect(formatIpv4(Uint8Array.of(9, 127, 0, 0, 1), 1)).toBe("127.0.0.1");
    expect(formatIpv4(Uint8Array.of(255, 255, 255, 255), 0)).toBe("255.255.255.255");
    expect(formatIpv4(Uint8Array.of(0, 0, 0, 0), 0)).toBe("0.0.0.0");
  });
});

describe("parseIpv4", () => {
  it("parses dotted quads to a 32-bit value", () => {
    expect(parseIpv4("0.0.0.0")).toBe(0);
    expect(parseIpv4("1.2.3.4")).toBe(0x01020304);
    expect(parseIpv4("255.255.255.255")).toBe(0xffffffff);
    expect(parseIpv4("x1.2.3.4y", 1, 8)).toBe(0x01020304);
  });

  it.each([
    "",
    "1.2.3",
    "1.2.3.4.5",
    "1.2.3.256",
    "01.2.3.4",
    "1.2.3.04",
    "1..3.4",
    "1.2.3.4.",
    ".1.2.3",
    "1.2.3.a",
    "1.2.3.-4",
    " 1.2.3.4",
    "1.2.3.4 ",
    "1234.1.1.1",
    "0x1.2.3.4",
    "127.1",
  ])("refuses %j", (text) => {
    expect(parseIpv4(text)).toBe(-1);
  });

  it("agrees with node:net isIPv4 on arbitrary dotted text", () => {
    const text = fc.string({ unit: fc.constantFrom("0", "1", "2", "5", "9", "."), maxLength: 18 });
    fc.assert(
      fc.property(text, (t) => {
        expect(parseIpv4(t) >= 0).toBe(isIPv4(t));
      }),
      { numRuns: 5000 },
    );
  });

  it("round-trips through writeIpv4 and formatIpv4", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 4, maxLength: 4 }), (b) => {
        const text = formatIpv4(b, 0);
        const out = new Uint8Array(4);
        writeIpv4(out, 0, parseIpv4(text));
        expect(out).toEqual(b);
      }),
    );
  });
});
