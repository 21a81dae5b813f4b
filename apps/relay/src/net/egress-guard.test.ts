import { describe, expect, it } from "vitest";
import { DEFAULT_BLOCKED_NETWORKS, EgressGuard, parseCidr } from "./egress-guard";

function guard(overrides: Partial<ConstructorParameters<typeof EgressGuard>[0]> = {}) {
  const g = new EgressGuard({
    enabled: true,
    blockedNetworks: DEFAULT_BLOCKED_NETWORKS,
    blockOwnPorts: true,
    blockedLocalPorts: [],
    localAddresses: () => ["10.1.2.3", "2001:db8::7"],
    ...overrides,
  });
  g.addOwnPorts([1080, 9100, 0]);
  return g;
}

describe("EgressGuard", () => {
  it("refuses link-local and metadata addresses on any port", () => {
    const g = guard();
    for (const address of [
      "169.254.169.254",
      "169.254.0.1",
      "fe80::1",
      "FE80::abcd",
      "fd00:ec2::254",
    ]) {
      expect({ address, verdict: g.check(address, 80) }).toEqual({
        address,
        verdict: "blocked_network",
      });
    }
    expect(g.check("169.253.255.255", 80)).toBeNull();
    expect(g.check("fec0::1", 80)).toBeNull();
  });

  it("refuses the relay's own ports on loopback and its own addresses, and only there", () => {
    const g = guard();
    for (const address of ["127.0.0.1", "127.8.9.10", "::1", "10.1.2.3", "2001:db8::7"]) {
      expect({ address, verdict: g.check(address, 1080) }).toEqual({
        address,
        verdict: "own_port",
      });
    }
    expect(g.check("127.0.0.1", 9100)).toBe("own_port");
    expect(g.check("127.0.0.1", 8080)).toBeNull();
    expect(g.check("10.1.2.4", 1080)).toBeNull();
    expect(g.check("93.184.216.34", 1080)).toBeNull();
  });

  it("takes the operator's lists: extra local ports, replaced networks, own ports off", () => {
    const g = guard({ blockedNetworks: ["10.0.0.0/8"], blockedLocalPorts: [6379] });
    expect(g.check("10.200.0.1", 443)).toBe("blocked_network");
    expect(g.check("169.254.169.254", 80)).toBeNull();
    expect(g.check("127.0.0.1", 6379)).toBe("own_port");
    const noOwn = guard({ blockOwnPorts: false });
    expect(noOwn.check("127.0.0.1", 1080)).toBeNull();
  });

  it("refuses nothing when turned off", () => {
    const g = guard({ enabled: false });
    expect(g.check("169.254.169.254", 80)).toBeNull();
    expect(g.check("127.0.0.1", 1080)).toBeNull();
    expect(g.blocksPeer("169.254.169.254")).toBe(false);
  });

  it("judges BIND peers by network only", () => {
    const g = guard();
    expect(g.blocksPeer("169.254.169.254")).toBe(true);
    expect(g.blocksPeer("127.0.0.1")).toBe(false);
  });

  it("parses addresses and CIDRs and explains what is wrong", () => {
    expect(parseCidr("169.254.0.0/16")).toEqual({
      ok: true,
      address: "169.254.0.0",
      prefix: 16,
      family: "ipv4",
    });
    expect(parseCidr("::1")).toMatchObject({ ok: true, prefix: 128, family: "ipv6" });
    expect(parseCidr("10.0.0.0/33")).toMatchObject({ ok: false });
    expect(parseCidr("example.com")).toMatchObject({ ok: false });
    expect(() => guard({ blockedNetworks: ["nope"] })).toThrow(/egress.blocked_networks/);
  });
});
