import { isIPv6, SocketAddress } from "node:net";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { formatIpv6, parseIpv6 } from "./ipv6";
import { ipv6Bytes, nodeIpv6Text } from "./test-support";

function parse(text: string): Uint8Array | undefined {
  const out = new Uint8Array(16);
  return parseIpv6(text, out, 0) ? out : undefined;
}

function fromWords(...words: number[]): Uint8Array {
  const out = new Uint8Array(16);
  words.forEach((w, i) => {
    out[2 * i] = w >>> 8;
    out[2 * i + 1] = w & 0xff;
  });
  return out;
}

describe("formatIpv6", () => {
  it.each([
    [fromWords(0, 0, 0, 0, 0, 0, 0, 0), "::"],
    [fromWords(0, 0, 0, 0, 0, 0, 0, 1), "::1"],
    [fromWords(1, 0, 0, 0, 0, 0, 0, 0), "1::"],
    [fromWords(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1), "2001:db8::1"],
    [fromWords(1, 0, 0, 1, 0, 0, 0, 1), "1:0:0:1::1"],
    [fromWords(1, 0, 0, 0, 1, 0, 0, 1), "1::1:0:0:1"],
    [fromWords(1, 0, 2, 3, 4, 5, 6, 7), "1:0:2:3:4:5:6:7"],
    [fromWords(0, 0, 0, 0, 0, 0xffff, 0x0102, 0x0304), "::ffff:1.2.3.4"],
    [fromWords(0, 0, 0, 0, 0, 0, 0x0102, 0x0304), "::1.2.3.4"],
    [fromWords(0, 0, 0, 0, 0, 0, 1, 0), "::0.1.0.0"],
    [fromWords(0, 0, 0, 0, 0, 0xffff, 0, 0), "::ffff:0.0.0.0"],
    [fromWords(0, 0, 0, 0, 1, 0xffff, 1, 2), "::1:ffff:1:2"],
    [fromWords(0xfe80, 0, 0, 0, 0xabcd, 0xef, 0x1234, 0xffff), "fe80::abcd:ef:1234:ffff"],
  ])("formats %o as %s, like node:net", (b, text) => {
    expect(formatIpv6(b, 0)).toBe(text);
    expect(nodeIpv6Text(b)).toBe(text);
  });

  it("reads at an offset", () => {
    const buf = new Uint8Array(20);
    buf[18] = 1;
    expect(formatIpv6(buf, 3)).toBe("::1");
  });

  it("matches node:net's SocketAddress for any address", () => {
    fc.assert(
      fc.property(fc.oneof(ipv6Bytes, fc.uint8Array({ minLength: 16, maxLength: 16 })), (b) => {
        expect(formatIpv6(b, 0)).toBe(nodeIpv6Text(b));
      }),
      { numRuns: 5000 },
    );
  });
});

describe("parseIpv6", () => {
  it.each([
    ["::", fromWords()],
    ["::1", fromWords(0, 0, 0, 0, 0, 0, 0, 1)],
    ["1::", fromWords(1)],
    ["2001:DB8::1", fromWords(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1)],
    ["0:0:0:0:0:0:0:1", fromWords(0, 0, 0, 0, 0, 0, 0, 1)],
    ["::ffff:1.2.3.4", fromWords(0, 0, 0, 0, 0, 0xffff, 0x0102, 0x0304)],
    ["1:2:3:4:5:6:1.2.3.4", fromWords(1, 2, 3, 4, 5, 6, 0x0102, 0x0304)],
    ["1:2:3:4:5:6:7::", fromWords(1, 2, 3, 4, 5, 6, 7, 0)],
    ["::1:2:3:4:5:6:7", fromWords(0, 1, 2, 3, 4, 5, 6, 7)],
    ["0001:0002::000f", fromWords(1, 2, 0, 0, 0, 0, 0, 15)],
  ])("parses %s", (text, expected) => {
    expect(parse(text)).toEqual(expected);
  });

  it.each([
    "",
    ":",
    ":::",
    "1",
    "1:2:3:4:5:6:7",
    "1:2:3:4:5:6:7:8:9",
    "1:2:3:4:5:6:7:8::",
    "::1:2:3:4:5:6:7:8",
    "1::2::3",
    ":1::2",
    "1::2:",
    "1:",
    "12345::",
    "g::",
    "::1.2.3",
    "::1.2.3.4:1",
    "::1.2.3.04",
    "1:2:3:4:5:6:7:1.2.3.4",
    "fe80::1%eth0",
    "[::1]",
    "1.2.3.4",
    " ::1",
  ])("refuses %j", (text) => {
    expect(parse(text)).toBeUndefined();
  });

  it("writes at an offset and leaves the rest alone", () => {
    const out = new Uint8Array(20).fill(0xee);
    expect(parseIpv6("1::2", out, 2)).toBe(true);
    expect(Array.from(out.subarray(0, 2))).toEqual([0xee, 0xee]);
    expect(Array.from(out.subarray(18))).toEqual([0xee, 0xee]);
    expect(out.subarray(2, 18)).toEqual(fromWords(1, 0, 0, 0, 0, 0, 0, 2));
  });

  it("agrees with node:net isIPv6 on arbitrary colon-hex text", () => {
    const unit = fc.constantFrom(
      "0",
      "1",
      "f",
      "F",
      "a",
      "ff",
      "ffff",
      "12345",
      ":",
      "::",
      ".",
      "1.2.3.4",
    );
    fc.assert(
      fc.property(fc.string({ unit, maxLength: 14 }), (t) => {
        expect(parse(t) !== undefined).toBe(isIPv6(t));
      }),
      { numRuns: 20_000 },
    );
  });

  it("parses what node:net parses, to the same bytes", () => {
    fc.assert(
      fc.property(ipv6Bytes, fc.boolean(), (b, upper) => {
        const text = nodeIpv6Text(b);
        const parsed = parse(upper ? text.toUpperCase() : text);
        expect(parsed).toEqual(b);
        expect(formatIpv6(parsed!, 0)).toBe(text);
        expect(new SocketAddress({ address: text, family: "ipv6" }).address).toBe(text);
      }),
    );
  });
});
