import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  decodeProxyHeader,
  encodeProxyHeaderV1,
  encodeProxyHeaderV2,
  type ProxyHeader,
} from "./proxy-protocol";
import {
  assertPrefixesIncomplete,
  assertWellFormed,
  byte,
  bytes,
  expectInvalid,
  expectOk,
  ipv6Bytes,
  nodeIpv6Text,
  port,
} from "./test-support";

const ipv4 = fc.tuple(byte, byte, byte, byte).map((b) => b.join("."));
const ipv6 = ipv6Bytes.map(nodeIpv6Text);
const proxyHeader: fc.Arbitrary<ProxyHeader> = fc.oneof(
  fc
    .constantFrom(1 as const, 2 as const)
    .map((version) => ({ version, command: "local" as const })),
  fc.constantFrom(4 as const, 6 as const).chain((family) => {
    const ip = family === 4 ? ipv4 : ipv6;
    return fc.record({
      version: fc.constantFrom(1 as const, 2 as const),
      command: fc.constant("proxy" as const),
      family: fc.constant(family),
      source: ip,
      sourcePort: port,
      destination: ip,
      destinationPort: port,
    });
  }),
);
/** Well-formed TLVs: type, 2-byte length, value. */
const tlvs = fc
  .array(fc.tuple(byte, fc.uint8Array({ maxLength: 40 })), { maxLength: 4 })
  .map((list) =>
    Uint8Array.from(
      list.flatMap(([type, value]) => [type, value.length >> 8, value.length & 0xff, ...value]),
    ),
  );

function encode(header: ProxyHeader, extra: Uint8Array = new Uint8Array(0)): Buffer {
  return header.version === 1 ? encodeProxyHeaderV1(header) : encodeProxyHeaderV2(header, extra);
}

describe("decodeProxyHeader", () => {
  it("round-trips v1 and v2 headers (v2 TLVs skipped), leaving the client's bytes", () => {
    fc.assert(
      fc.property(proxyHeader, tlvs, fc.uint8Array({ maxLength: 8 }), (header, extra, tail) => {
        const wire = encode(header, extra);
        const buf = Buffer.concat([wire, tail]);
        expect(expectOk(decodeProxyHeader(buf))).toMatchObject({
          value: header,
          length: wire.length,
        });
        assertPrefixesIncomplete((b, o) => decodeProxyHeader(b, o), wire, new Uint8Array(3));
      }),
    );
  });

  it("reads HAProxy's v1 forms", () => {
    expect(
      expectOk(decodeProxyHeader(bytes("PROXY TCP4 127.0.0.5 127.0.0.1 40000 1080\r\nX"))),
    ).toMatchObject({
      value: {
        version: 1,
        command: "proxy",
        family: 4,
        source: "127.0.0.5",
        sourcePort: 40000,
        destination: "127.0.0.1",
        destinationPort: 1080,
      },
      length: 43,
    });
    expect(expectOk(decodeProxyHeader(bytes("PROXY UNKNOWN ffff::1 ::1 1 2\r\n"))).value).toEqual({
      version: 1,
      command: "local",
    });
  });

  it("accepts only the versions asked for", () => {
    const v1 = bytes("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n");
    const v2 = encodeProxyHeaderV2({ version: 2, command: "local" });
    expect(expectInvalid(decodeProxyHeader(v1, 0, "v2")).code).toBe("SOCKS_E_BAD_PROXY_HEADER");
    expect(expectInvalid(decodeProxyHeader(v2, 0, "v1")).code).toBe("SOCKS_E_BAD_PROXY_HEADER");
    // A SOCKS5 greeting is not a header: refused at once, not waited on.
    expect(expectInvalid(decodeProxyHeader(bytes(5, 1, 0))).message).toMatch(/byte 0 is 0x05/);
  });

  it("refuses malformed headers with the reason", () => {
    const cases: [Uint8Array, RegExp][] = [
      [bytes(`PROXY TCP4 ${"1".repeat(120)}`), /no CRLF within 107 bytes/],
      [bytes("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n"), /LF without CR/],
      [bytes("PROXY TCP6 1.2.3.4 5.6.7.8 1 2\r\n"), /not an IPv6 address/],
      [bytes("PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\n"), /port/],
      [bytes("PROXY TCP4 1.2.3.4 5.6.7.8 1 65536\r\n"), /port/],
      [bytes("PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n"), /3 fields/],
      [bytes("PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n"), /protocol "UDP4"/],
      [bytes("PROXX"), /not a v1 header \(byte 4\)/],
    ];
    const v2 = encodeProxyHeaderV2(
      {
        version: 2,
        command: "proxy",
        family: 4,
        source: "1.2.3.4",
        sourcePort: 1,
        destination: "5.6.7.8",
        destinationPort: 2,
      },
      Uint8Array.of(0x04, 0x00, 0x02, 0xaa, 0xbb),
    );
    const badTlv = Buffer.from(v2);
    badTlv[30] = 0x09; // TLV length 9 runs past the header
    cases.push([badTlv, /TLV at byte 28 runs past the header/]);
    const cutTlv = Buffer.concat([v2.subarray(0, 14), bytes(0, 14), v2.subarray(16, 30)]);
    cases.push([cutTlv, /TLV at byte 28 is cut short/]);
    const shortAddresses = Buffer.concat([v2.subarray(0, 14), bytes(0, 4), v2.subarray(16, 20)]);
    cases.push([shortAddresses, /too short for IPv4/]);
    const udp = Buffer.from(v2);
    udp[13] = 0x12;
    cases.push([udp, /family \(byte 13\) is 0x12/]);
    const v3 = Buffer.from(v2);
    v3[12] = 0x31;
    cases.push([v3, /version \(byte 12\)/]);
    const huge = Buffer.concat([v2.subarray(0, 14), bytes(0xff, 0xff)]);
    cases.push([huge, /length \(bytes 14-15\) is 65535, at most 4096/]);
    for (const [buf, message] of cases) {
      const error = expectInvalid(decodeProxyHeader(buf));
      expect(error.code).toBe("SOCKS_E_BAD_PROXY_HEADER");
      expect(error.message).toMatch(message);
    }
  });

  it("treats v2 LOCAL and UNSPEC as the real peer", () => {
    const unspec = encodeProxyHeaderV2({ version: 2, command: "local" });
    unspec[12] = 0x21;
    expect(expectOk(decodeProxyHeader(unspec)).value).toEqual({ version: 2, command: "local" });
  });
});

const mutatedHeader = fc
  .tuple(
    proxyHeader,
    tlvs,
    fc.array(fc.tuple(fc.nat(), byte), { maxLength: 3 }),
    fc.nat(),
    fc.boolean(),
  )
  .map(([header, extra, edits, cut, truncate]) => {
    const buf = Uint8Array.from(encode(header, extra));
    for (const [at, value] of edits) buf[at % buf.length] = value;
    return truncate ? buf.subarray(0, cut % (buf.length + 1)) : buf;
  });

describe("decodeProxyHeader on hostile input", () => {
  const versions = fc.constantFrom("v1" as const, "v2" as const, "any" as const);
  it("never throws, returns a well-formed Decoded, and what it accepts re-encodes to the same header", () => {
    fc.assert(
      fc.property(
        fc.oneof(mutatedHeader, fc.uint8Array({ maxLength: 200 })),
        fc.integer({ min: -2, max: 4 }),
        versions,
        (message, shift, accept) => {
          const offset = Math.max(0, shift);
          const buf = Buffer.concat([new Uint8Array(offset), message]);
          const at = shift < 0 ? Number.NaN : offset;
          const result = decodeProxyHeader(buf, at, accept);
          assertWellFormed(result, buf, Number.isNaN(at) ? 0 : at);
          if (result.status === "invalid" && result.error.code !== "SOCKS_E_BAD_OFFSET") {
            expect(result.error.offset).toBeGreaterThanOrEqual(offset);
            expect(result.error.offset).toBeLessThan(buf.length);
          }
          if (result.status === "ok") {
            const again = encode(result.value);
            expect(expectOk(decodeProxyHeader(again)).value).toEqual(result.value);
          }
        },
      ),
      { numRuns: 5000 },
    );
  });
});
