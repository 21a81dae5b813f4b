import { describe, expect, it } from "vitest";
import { buildPac, parsePacMapping, regionOrder } from "./pac";

const mapping = parsePacMapping(
  "10.1.0.0/16=eu-west;10.0.0.0/8=us-east;country:IN=ap-south;default=us-east,eu-west,ap-south",
);
const relays = [
  { name: "relay-ap", region: "ap-south", address: "203.0.113.3:1080" },
  { name: "relay-eu", region: "eu-west", address: "203.0.113.1:1080" },
  { name: "relay-us", region: "us-east", address: "203.0.113.2:1080" },
];

describe("PAC", () => {
  it("orders regions by the most specific matching network, then country, then the default", () => {
    expect(regionOrder(mapping, "10.1.2.3")[0]).toBe("eu-west");
    expect(regionOrder(mapping, "::ffff:10.9.9.9")[0]).toBe("us-east");
    expect(regionOrder(mapping, "192.0.2.1", "in")[0]).toBe("ap-south");
    expect(regionOrder(mapping, "192.0.2.1")).toEqual(["us-east", "eu-west", "ap-south"]);
  });

  it("lists every relay nearest first, SOCKS5 then SOCKS for each", () => {
    const pac = buildPac(relays, regionOrder(mapping, "10.1.2.3"));
    expect(pac).toContain(
      '"SOCKS5 203.0.113.1:1080; SOCKS 203.0.113.1:1080; SOCKS5 203.0.113.2:1080',
    );
    expect(pac).toMatch(/function FindProxyForURL\(url, host\)/);
    expect(buildPac([], [])).toContain('"DIRECT"');
  });

  it("names the bad entry of a mapping", () => {
    expect(() => parsePacMapping("10.0.0.0/33=eu-west")).toThrow('"10.0.0.0/33" is not a CIDR');
    expect(() => parsePacMapping("default=")).toThrow("default=");
  });
});
