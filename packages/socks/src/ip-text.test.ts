import fc from "fast-check";
import ipaddr from "ipaddr.js";
import { describe, expect, it } from "vitest";
import {
  formatIpv4Value as formatIpv4,
  isIpv4Mapped,
  maskV4,
  maskV6Word,
  parseIpv4,
  parseIpv6Words as parseIpv6,
} from "./ip-text";

function v6(text: string): number[] | null {
  const out = new Uint32Array(4);
  return parseIpv6(text, out) ? [...out] : null;
}

describe("parseIpv4", () => {
  it("parses dotted quads to unsigned 32-bit values", () => {
    expect(parseIpv4("0.0.0.0")).toBe(0);
    expect(parseIpv4("10.0.0.1")).toBe(0x0a000001);
    expect(parseIpv4("255.255.255.255")).toBe(0xffffffff);
  });

  it("refuses short, octal-looking, out-of-range and padded forms", () => {
    for (const text of [
      "127.1",
      "010.0.0.1",
      "1.2.3.256",
      "1.2.3.4.",
      " 1.2.3.4",
      "1.2.3",
      "0x7f.0.0.1",
      "",
    ]) {
      expect(parseIpv4(text), text).toBe(-1);
    }
  });

  it("parses a slice of a longer string", () => {
    expect(parseIpv4("x10.1.2.3/8", 1, 9)).toBe(0x0a010203);
  });

  it("agrees with ipaddr.js on every dotted quad", () => {
    fc.assert(
      fc.property(fc.ipV4(), (text) => {
        expect(parseIpv4(text)).toBe(
          ipaddr.IPv4.parse(text)
            .toByteArray()
            .reduce((a, b) => a * 256 + b, 0),
        );
        expect(formatIpv4(parseIpv4(text))).toBe(text);
      }),
    );
  });
});

describe("parseIpv6", () => {
  it("parses compressed, full, dotted-tail and mixed-case forms", () => {
    expect(v6("::")).toEqual([0, 0, 0, 0]);
    expect(v6("::1")).toEqual([0, 0, 0, 1]);
    expect(v6("2001:DB8::1")).toEqual([0x20010db8, 0, 0, 1]);
    expect(v6("1:2:3:4:5:6:7:8")).toEqual([0x10002, 0x30004, 0x50006, 0x70008]);
    expect(v6("::ffff:10.0.0.1")).toEqual([0, 0, 0xffff, 0x0a000001]);
    expect(v6("fe80::")).toEqual([0xfe800000, 0, 0, 0]);
    expect(v6("::1.2.3.4")).toEqual([0, 0, 0, 0x01020304]);
  });

  it("refuses malformed text", () => {
    for (const text of [
      ":",
      ":::",
      "1::2::3",
      "1:2:3:4:5:6:7:8:9",
      "12345::",
      "1:",
      "::g",
      "1.2.3.4",
      "fe80::1%eth0",
    ]) {
      expect(v6(text), text).toBeNull();
    }
  });

  it("agrees with ipaddr.js on generated addresses", () => {
    fc.assert(
      fc.property(fc.ipV6(), (text) => {
        // ipaddr.js reads the deprecated IPv4-compatible "::a.b.c.d" as ::ffff:a.b.c.d; RFC 4291 does not.
        fc.pre(!/^::[\d.]+$/.test(text));
        const expected = ipaddr.IPv6.parse(text).parts;
        const words = [0, 2, 4, 6].map((i) => ((expected[i]! << 16) | expected[i + 1]!) >>> 0);
        expect(v6(text)).toEqual(words);
      }),
    );
  });

  it("recognises IPv4-mapped addresses", () => {
    const out = new Uint32Array(4);
    parseIpv6("::ffff:1.2.3.4", out);
    expect(isIpv4Mapped(out)).toBe(true);
    parseIpv6("::1.2.3.4", out);
    expect(isIpv4Mapped(out)).toBe(false);
  });
});

describe("masks", () => {
  it("builds IPv4 and IPv6 word masks", () => {
    expect(maskV4(0)).toBe(0);
    expect(maskV4(8)).toBe(0xff000000);
    expect(maskV4(32)).toBe(0xffffffff);
    expect([0, 1, 2, 3].map((i) => maskV6Word(40, i))).toEqual([0xffffffff, 0xff000000, 0, 0]);
  });
});
