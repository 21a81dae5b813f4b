import { readFileSync } from "node:fs";
import { BlockList, isIP, SocketAddress } from "node:net";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  addressKey,
  canonicalIp,
  formatHostPort,
  ipBucketKey,
  ipFamily,
  networkContains,
  networkKeyRange,
  parseHostPort,
  parseNetwork,
  splitHostPort,
} from "./address-text";
import { ipv6Bytes, nodeIpv6Text } from "./test-support";

const v6Text = ipv6Bytes.map(nodeIpv6Text);
/** Addresses in any written form: canonical, fast-check's (full, compressed, dotted tails). */
const anyIp = fc.oneof(fc.ipV4(), fc.ipV6(), v6Text);
/** Text near the address grammar, where parsers disagree: hex digits, ":", ".", "%", brackets. */
const nearIp = fc.oneof(
  fc.string({ unit: fc.constantFrom(..."0123456789abcdefABCDEF:.%x[]/ -"), maxLength: 46 }),
  anyIp.chain((ip) =>
    fc
      .tuple(
        fc.nat({ max: ip.length }),
        fc.constantFrom("", ":", ".", "0", "f", "%", "%eth0", "::"),
      )
      .map(([at, insert]) => ip.slice(0, at) + insert + ip.slice(at + (insert === "" ? 1 : 0))),
  ),
);

describe("ipFamily", () => {
  it("is node:net's isIP on random text, zone ids included when allowed", () => {
    fc.assert(
      fc.property(fc.oneof(nearIp, anyIp), (text) => {
        expect(ipFamily(text, { zone: true })).toBe(isIP(text));
        expect(ipFamily(text)).toBe(text.includes("%") ? 0 : isIP(text));
      }),
      { numRuns: 20_000 },
    );
  });

  it("refuses zone ids unless asked", () => {
    expect(ipFamily("fe80::1%eth0")).toBe(0);
    expect(ipFamily("fe80::1%eth0", { zone: true })).toBe(6);
    expect(ipFamily("10.0.0.1%eth0", { zone: true })).toBe(0);
    expect(ipFamily("fe80::1%", { zone: true })).toBe(0);
  });
});

describe("canonicalIp", () => {
  it("prints what node:net prints, IPv4-mapped as IPv4, and is idempotent", () => {
    fc.assert(
      fc.property(anyIp, (text) => {
        const family = isIP(text) === 4 ? "ipv4" : "ipv6";
        const node = new SocketAddress({ address: text, family }).address;
        const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(node);
        const canonical = canonicalIp(text);
        expect(canonical).toBe(mapped ? mapped[1] : node);
        expect(canonicalIp(canonical!)).toBe(canonical);
      }),
      { numRuns: 5_000 },
    );
    expect(canonicalIp("example.com")).toBeNull();
    expect(canonicalIp("fe80::1%eth0")).toBeNull();
  });
});

function blockListOf(text: string): { list: BlockList; family: "ipv4" | "ipv6" } {
  const [address, prefix] = text.split("/") as [string, string];
  const family = isIP(address) === 4 ? "ipv4" : "ipv6";
  const list = new BlockList();
  list.addSubnet(address, Number(prefix), family);
  return { list, family };
}

const v4Cidr = fc.tuple(fc.ipV4(), fc.integer({ min: 0, max: 32 })).map(([a, p]) => `${a}/${p}`);
const v6Cidr = fc.tuple(v6Text, fc.integer({ min: 0, max: 128 })).map(([a, p]) => `${a}/${p}`);
/** An address near the network: sometimes the network address itself with a few bits flipped. */
function near(cidr: string): fc.Arbitrary<string> {
  const address = cidr.split("/")[0]!;
  return fc.oneof(
    fc.constant(address),
    isIP(address) === 4 ? fc.ipV4() : v6Text,
    fc.nat({ max: 3 }).map((i) => address.replace(/[0-9a-f](?=[^0-9a-f]*$)/, String(i))),
  );
}
const notMapped = (text: string) => !/^::ffff:/i.test(canonicalIpOrSelf(text));
const canonicalIpOrSelf = (text: string) =>
  isIP(text) === 6 ? new SocketAddress({ address: text, family: "ipv6" }).address : text;

describe("parseNetwork / networkContains", () => {
  it("contains what node:net's BlockList contains", () => {
    fc.assert(
      fc.property(
        fc
          .oneof(v4Cidr, v6Cidr.filter(notMapped))
          .chain((cidr) => fc.tuple(fc.constant(cidr), near(cidr).filter(notMapped))),
        ([cidr, address]) => {
          const parsed = parseNetwork(cidr);
          expect(parsed.ok).toBe(true);
          if (!parsed.ok) return;
          const { list, family } = blockListOf(cidr);
          const addressFamily = isIP(address) === 4 ? "ipv4" : "ipv6";
          const expected = addressFamily === family && list.check(address, family);
          expect(networkContains(parsed.network, address)).toBe(expected);
        },
      ),
      { numRuns: 10_000 },
    );
  });

  it("matches IPv4-mapped addresses and networks as IPv4", () => {
    const v4 = parseNetwork("10.0.0.0/8");
    const mapped = parseNetwork("::ffff:10.0.0.0/104");
    expect(v4).toEqual(mapped);
    if (!v4.ok) return;
    expect(networkContains(v4.network, "::ffff:10.1.2.3")).toBe(true);
    expect(networkContains(v4.network, "::ffff:11.1.2.3")).toBe(false);
    expect(networkContains(v4.network, "example.com")).toBe(false);
  });

  it("keys an address inside its network's key range exactly when the network contains it", () => {
    // (IPv4 keys live inside ::ffff:0:0/96, so a wide IPv6 range also covers IPv4 addresses.)
    fc.assert(
      fc.property(
        fc
          .oneof(v4Cidr, v6Cidr)
          .chain((cidr) => fc.tuple(fc.constant(cidr), near(cidr).filter(notMapped))),
        ([cidr, address]) => {
          const parsed = parseNetwork(cidr);
          const range = networkKeyRange(cidr)!;
          const key = addressKey(address)!;
          if (!parsed.ok) throw new Error(cidr);
          expect(key >= range.low && key <= range.high).toBe(
            networkContains(parsed.network, address),
          );
        },
      ),
      { numRuns: 5_000 },
    );
  });
});

describe("ipBucketKey", () => {
  it("buckets IPv6 by /64 and IPv4 (also IPv4-mapped) by address", () => {
    fc.assert(
      fc.property(v6Text.filter(notMapped), v6Text.filter(notMapped), (a, b) => {
        const net = parseNetwork(`${a}/64`);
        if (!net.ok) throw new Error(a);
        expect(ipBucketKey(a) === ipBucketKey(b)).toBe(networkContains(net.network, b));
      }),
    );
    expect(ipBucketKey("2001:db8:0:1::5")).toBe("2001:db8:0:1::/64");
    expect(ipBucketKey("fe80::1%eth0")).toBe("fe80:0:0:0::/64");
    expect(ipBucketKey("::ffff:192.0.2.1")).toBe("192.0.2.1");
    expect(ipBucketKey("prefix:ese_abc")).toBeNull();
  });
});

const label = fc.stringMatching(/^[a-z0-9](?:[a-z0-9-]{0,10}[a-z0-9])?$/);
const hostName = fc.array(label, { minLength: 1, maxLength: 4 }).map((labels) => labels.join("."));
const goodPort = fc.integer({ min: 1, max: 65535 });

describe("host:port", () => {
  it("round-trips names, IPv4 and bracketed IPv6", () => {
    fc.assert(
      fc.property(fc.oneof(hostName, fc.ipV4(), fc.ipV6()), goodPort, (host, port) => {
        const text = formatHostPort({ host, port });
        expect(text).toBe(isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`);
        expect(parseHostPort(text)).toEqual({ host, port });
        expect(splitHostPort(text)).toEqual({ host, port });
      }),
    );
  });

  it("refuses what cannot be written into a PAC file or client config", () => {
    for (const bad of [
      "example.com",
      "::1:80",
      "[::1]80",
      "[10.0.0.1]:80",
      "[fe80::1%eth0]:80",
      "host:0",
      "host:65536",
      'a";b:80',
      "a b:80",
      ":80",
      "-bad-.com:80",
    ]) {
      expect(parseHostPort(bad), bad).toBeUndefined();
    }
  });

  it("splits loosely (any host, port 0 allowed) for callers that check the host themselves", () => {
    expect(splitHostPort("[fe80::1%eth0]:0")).toEqual({ host: "fe80::1%eth0", port: 0 });
    expect(splitHostPort("my_host:80")).toEqual({ host: "my_host", port: 80 });
    expect(splitHostPort("::1:80")).toBeUndefined();
    expect(splitHostPort("host:70000")).toBeUndefined();
  });
});

describe("browser safety", () => {
  it("imports no Node.js built-ins, directly or through its own modules", () => {
    const seen = new Set<string>();
    const visit = (file: string) => {
      if (seen.has(file)) return;
      seen.add(file);
      const source = readFileSync(new URL(`./${file}.ts`, import.meta.url), "utf8");
      for (const [, from] of source.matchAll(/^(?:import|export)\s[^;]*?from\s+"([^"]+)"/gms)) {
        expect(from, `${file}.ts imports ${from}`).toMatch(/^\.\//);
        visit(from!.slice(2));
      }
    };
    visit("address-text");
    expect(seen.size).toBeGreaterThan(3);
  });
});
