import { isIPv6, SocketAddress } from "node:net";
import { decodeAddress } from "@edgesocks/socks";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  ipv4FromMapped,
  isIpv6Address,
  normalizeDestination,
  normalizeRequestAddress,
  parseInetAton,
} from "./destination";

describe("normalizeDestination", () => {
  it.each([
    ["2130706433", "127.0.0.1"],
    ["127.1", "127.0.0.1"],
    ["0x7f.0.0.1", "127.0.0.1"],
    ["0177.0.0.1", "127.0.0.1"],
    ["10.1", "10.0.0.1"],
    ["::ffff:10.0.0.1", "10.0.0.1"],
    ["::ffff:a00:1", "10.0.0.1"],
    ["[::1]", "::1"],
    ["169.254.169.254", "169.254.169.254"],
  ])("treats %s as the address %s it really is", (input, address) => {
    const result = normalizeDestination(input);
    expect(result).toMatchObject({ ok: true, destination: { kind: "ip", address } });
  });

  it.each(["", " ", "0.0.0.0", "0", "::", "0:0:0:0:0:0:0:0", "::ffff:0.0.0.0"])(
    "refuses %j instead of letting Node connect it to the relay host",
    (input) => {
      const result = normalizeDestination(input);
      expect(result.ok).toBe(false);
    },
  );

  it("keeps names as lower-case domains without the trailing dot", () => {
    expect(normalizeDestination("Example.COM.")).toEqual({
      ok: true,
      destination: { kind: "domain", host: "example.com" },
    });
  });

  it("rejects names no resolver should be handed", () => {
    expect(normalizeDestination("a\0b").ok).toBe(false);
  });
});

describe("parseInetAton", () => {
  it("refuses out-of-range parts", () => {
    expect(parseInetAton("256.0.0.1")).toBeUndefined();
    expect(parseInetAton("1.2.3.4.5")).toBeUndefined();
    expect(parseInetAton("4294967296")).toBeUndefined();
    expect(parseInetAton("1.16777216")).toBeUndefined();
    expect(parseInetAton("08.1.1.1")).toBeUndefined();
  });
  it("accepts the largest single-part value", () => {
    expect(parseInetAton("4294967295")).toBe("255.255.255.255");
  });
  it("leaves a dotted quad as it is, which normalizeDestination's shortcut relies on", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 4, maxLength: 4 }), (bytes) => {
        const dotted = bytes.join(".");
        expect(parseInetAton(dotted)).toBe(dotted);
      }),
    );
  });
});

describe("normalizeRequestAddress", () => {
  /** The address a binary SOCKS5 address decodes to, as the session sees it. */
  function decoded(atyp: 1 | 4, bytes: Uint8Array) {
    const result = decodeAddress(Buffer.from([atyp, ...bytes, 0, 80]));
    if (result.status !== "ok") throw new Error("undecodable");
    return result.value.address;
  }
  // IPv6 with the shapes normalisation cares about: mapped, compatible, zeros.
  const ipv6Bytes = fc.oneof(
    fc.uint8Array({ minLength: 16, maxLength: 16 }),
    fc
      .uint8Array({ minLength: 4, maxLength: 4 })
      .map((v4) => Uint8Array.from([...new Uint8Array(10), 0xff, 0xff, ...v4])),
    fc
      .uint8Array({ minLength: 4, maxLength: 4 })
      .map((v4) => Uint8Array.from([...new Uint8Array(12), ...v4])),
    fc.constant(new Uint8Array(16)),
  );

  it("treats binary IPv4 exactly as normalizeDestination treats its text", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 4, maxLength: 4 }), (bytes) => {
        const address = decoded(1, bytes);
        expect(normalizeRequestAddress(address)).toEqual(normalizeDestination(address.host));
      }),
    );
    expect(normalizeRequestAddress(decoded(1, new Uint8Array(4))).ok).toBe(false);
  });

  it("treats binary IPv6 exactly as normalizeDestination treats its text", () => {
    fc.assert(
      fc.property(ipv6Bytes, (bytes) => {
        const address = decoded(4, bytes);
        expect(normalizeRequestAddress(address)).toEqual(normalizeDestination(address.host));
      }),
    );
  });

  it("still normalises names", () => {
    expect(normalizeRequestAddress({ type: "domain", host: "0x7f.1" })).toEqual(
      normalizeDestination("0x7f.1"),
    );
  });
});

describe("isIpv6Address", () => {
  it.each(["::1", "::ffff:10.0.0.1", "fe80::1", "10.0.0.1", "0.0.0.0", "", "example.com"])(
    "agrees with node:net isIPv6 on %j",
    (address) => {
      expect(isIpv6Address(address)).toBe(isIPv6(address));
    },
  );
});

describe("ipv4FromMapped", () => {
  it("finds the IPv4 address of exactly the IPv4-mapped addresses, in any written form", () => {
    const mapped = fc.ipV4().map((v4) => `::ffff:${v4}`);
    const spelled = fc
      .tuple(fc.ipV4(), fc.constantFrom("0:0:0:0:0:ffff:", "::FFFF:", "0::ffff:", "::0:ffff:"))
      .map(([v4, prefix]) => prefix + v4);
    fc.assert(
      fc.property(fc.oneof(fc.ipV6(), mapped, spelled), (text) => {
        const canonical = new SocketAddress({ address: text, family: "ipv6" }).address;
        const expected = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(canonical)?.[1];
        expect(ipv4FromMapped(text)).toBe(expected);
      }),
      { numRuns: 5_000 },
    );
    expect(ipv4FromMapped("::ffff:a00:1")).toBe("10.0.0.1");
    expect(ipv4FromMapped("::1.2.3.4")).toBeUndefined();
    expect(ipv4FromMapped("::ffff:1.2.3.4%eth0")).toBeUndefined();
  });
});
