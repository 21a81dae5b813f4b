import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { addressFromHost, decodeAddress, encodeAddress, type SocksAddress } from "./address";
import { INCOMPLETE } from "./decoded";
import {
  assertPrefixesIncomplete,
  bytes,
  embed,
  expectInvalid,
  ipv6Bytes,
  nodeIpv6Text,
  port,
  socksAddress,
  surroundings,
} from "./test-support";

describe("addressFromHost", () => {
  it.each([
    ["127.0.0.1", { type: "ipv4", host: "127.0.0.1" }],
    ["::1", { type: "ipv6", host: "::1" }],
    ["[::1]", { type: "ipv6", host: "::1" }],
    ["2001:0DB8:0000::0001", { type: "ipv6", host: "2001:db8::1" }],
    ["::ffff:127.0.0.1", { type: "ipv6", host: "::ffff:127.0.0.1" }],
    ["0:0:0:0:0:ffff:7f00:1", { type: "ipv6", host: "::ffff:127.0.0.1" }],
    ["example.com", { type: "domain", host: "example.com" }],
    ["Example.COM", { type: "domain", host: "Example.COM" }],
    ["010.0.0.1", { type: "domain", host: "010.0.0.1" }],
    ["fe80::1%eth0", { type: "domain", host: "fe80::1%eth0" }],
    ["[]", { type: "domain", host: "[]" }],
    ["", { type: "domain", host: "" }],
  ])("classifies %j", (host, expected) => {
    expect(addressFromHost(host)).toEqual(expected);
  });

  it("canonicalises any IPv6 spelling to what node:net prints", () => {
    fc.assert(
      fc.property(ipv6Bytes, (b) => {
        const expanded = Array.from({ length: 8 }, (_, i) =>
          ((b[2 * i]! << 8) | b[2 * i + 1]!).toString(16).padStart(4, "0").toUpperCase(),
        ).join(":");
        expect(addressFromHost(expanded)).toEqual({ type: "ipv6", host: nodeIpv6Text(b) });
      }),
    );
  });
});

describe("encodeAddress / decodeAddress", () => {
  it("encodes each ATYP", () => {
    expect(encodeAddress({ type: "ipv4", host: "1.2.3.4" }, 258)).toEqual(
      bytes(1, 1, 2, 3, 4, 1, 2),
    );
    expect(encodeAddress({ type: "domain", host: "ab" }, 0)).toEqual(bytes(3, 2, "ab", 0, 0));
    expect(encodeAddress({ type: "ipv6", host: "::2" }, 1)).toEqual(
      bytes(4, new Array(15).fill(0), 2, 0, 1),
    );
  });

  it("refuses what a SOCKS5 address cannot carry", () => {
    const code = (address: SocksAddress, p = 80) => {
      try {
        encodeAddress(address, p);
        return "encoded";
      } catch (error) {
        return (error as { code: string }).code;
      }
    };
    expect(code({ type: "ipv4", host: "::1" })).toBe("SOCKS_E_BAD_ADDRESS");
    expect(code({ type: "ipv4", host: "1.2.3.4" }, 70000)).toBe("SOCKS_E_OUT_OF_RANGE");
    expect(code({ type: "ipv4", host: "1.2.3.4" }, 1.5)).toBe("SOCKS_E_OUT_OF_RANGE");
    expect(code({ type: "ipv6", host: "[::1]" })).toBe("SOCKS_E_BAD_ADDRESS");
    expect(code({ type: "ipv6", host: "fe80::1%eth0" })).toBe("SOCKS_E_BAD_ADDRESS");
    expect(code({ type: "domain", host: "d".repeat(255) })).toBe("encoded");
    expect(code({ type: "domain", host: "d".repeat(256) })).toBe("SOCKS_E_FIELD_TOO_LONG");
    expect(code({ type: "domain", host: "例え.jp" })).toBe("SOCKS_E_BAD_ADDRESS");
    expect(code({ type: "unix" as "domain", host: "/tmp/s" })).toBe("SOCKS_E_BAD_ATYP");
    expect(code({ type: "domain", host: 42 as unknown as string })).toBe("SOCKS_E_BAD_ADDRESS");
  });

  it("decodes, and answers an unknown ATYP with reply 0x08", () => {
    expect(decodeAddress(bytes(9, 3, 1, "x", 0, 80), 1)).toEqual({
      status: "ok",
      value: { address: { type: "domain", host: "x" }, port: 80 },
      length: 5,
    });
    expect(decodeAddress(bytes(3))).toBe(INCOMPLETE);
    const error = expectInvalid(decodeAddress(bytes(2)));
    expect(error.code).toBe("SOCKS_E_BAD_ATYP");
    expect(error.reply).toBe(0x08);
    expect(error.message).toBe(
      "SOCKS5 address: ATYP (byte 0) is 0x02, expected 0x01 (IPv4), 0x03 (domain) or 0x04 (IPv6)",
    );
  });

  it("round-trips", () => {
    fc.assert(
      fc.property(socksAddress, port, surroundings, (address, p, s) => {
        const message = encodeAddress(address, p);
        expect(decodeAddress(embed(s.junk, message, s.tail), s.junk.length)).toEqual({
          status: "ok",
          value: { address, port: p },
          length: message.length,
        });
        assertPrefixesIncomplete(decodeAddress, message, s.junk);
      }),
    );
  });
});
