import { parseIpv4 } from "@edgesocks/socks/address";
import { describe, expect, it } from "vitest";
import {
  type Destination,
  destinationMatches,
  type MatchTarget,
  normalizeName,
  parseDestination,
} from "./destination";

function parse(pattern: string): Destination {
  const result = parseDestination(pattern);
  if (!result.ok) throw new Error(result.error);
  return result.destination;
}

function nameTarget(name: string): MatchTarget {
  return { v4: [], v6: [], name: normalizeName(name), countries: [] };
}

function matchesName(pattern: string, name: string): boolean {
  return destinationMatches(parse(pattern), nameTarget(name));
}

describe("parseDestination", () => {
  it("parses every form", () => {
    expect(parse("*")).toEqual({ kind: "any" });
    expect(parse("10.1.2.3")).toEqual({
      kind: "ip",
      network: { family: 4, net: 0x0a010203, prefix: 32 },
    });
    expect(parse("10.1.2.3/8")).toEqual({
      kind: "ip",
      network: { family: 4, net: 0x0a000000, prefix: 8 },
    });
    expect(parse("2001:db8::/32")).toMatchObject({
      kind: "ip",
      network: { family: 6, prefix: 32 },
    });
    expect(parse("::ffff:10.0.0.0/104")).toEqual({
      kind: "ip",
      network: { family: 4, net: 0x0a000000, prefix: 8 },
    });
    expect(parse("::ffff:192.168.1.1")).toEqual({
      kind: "ip",
      network: { family: 4, net: parseIpv4("192.168.1.1"), prefix: 32 },
    });
    expect(parse("Example.COM.")).toEqual({ kind: "domain", name: "example.com" });
    expect(parse("*.example.com")).toEqual({ kind: "suffix", suffix: "example.com" });
    expect(parse("api.*.com")).toMatchObject({ kind: "pattern", literalSuffix: "com" });
    expect(parse("prod-*.corp.example")).toMatchObject({
      kind: "pattern",
      literalSuffix: "corp.example",
    });
    expect(parse("*.example.*")).toMatchObject({ kind: "pattern", literalSuffix: "" });
  });

  it.each([
    ["", "destination is empty"],
    ["10.0.0.0/33", '"10.0.0.0/33" is not a valid CIDR (prefix must be 0-32)'],
    ["2001:db8::/129", '"2001:db8::/129" is not a valid CIDR (prefix must be 0-128)'],
    ["10.0.0.0/x", '"10.0.0.0/x" is not a valid CIDR (prefix must be 0-32)'],
    ["300.0.0.0/8", '"300.0.0.0/8" is not a valid CIDR'],
    ["10.0.0.256", '"10.0.0.256" is not a valid IPv4 address'],
    ["127.1", '"127.1" is not a valid IPv4 address'],
    ["fe80::1%eth0", '"fe80::1%eth0" is not a valid IPv6 address'],
    ["example..com", '"example..com" is not a valid destination: empty label'],
    [
      "exa mple.com",
      '"exa mple.com" is not a valid destination: " " is not allowed in a domain name (letters, digits, "-", "_" and "*" are)',
    ],
    [
      "bücher.de",
      '"bücher.de" is not a valid destination: use the ASCII (punycode, xn--) form of an internationalised name',
    ],
    [
      `${"a".repeat(64)}.com`,
      `"${"a".repeat(64)}.com" is not a valid destination: label "${"a".repeat(64)}" is longer than 63 characters`,
    ],
  ])("refuses %j", (pattern, error) => {
    expect(parseDestination(pattern)).toEqual({ ok: false, error });
  });
});

describe("name matching", () => {
  it("matches exact names case-insensitively, ignoring a trailing dot", () => {
    expect(matchesName("example.com", "EXAMPLE.com.")).toBe(true);
    expect(matchesName("example.com.", "example.com")).toBe(true);
    expect(matchesName("example.com", "www.example.com")).toBe(false);
  });

  it("matches *.example.com at any depth below, not the apex", () => {
    expect(matchesName("*.example.com", "a.example.com")).toBe(true);
    expect(matchesName("*.example.com", "a.b.c.Example.com.")).toBe(true);
    expect(matchesName("*.example.com", "example.com")).toBe(false);
    expect(matchesName("*.example.com", "badexample.com")).toBe(false);
  });

  it("matches inner wildcards within one label, one or more characters", () => {
    expect(matchesName("api.*.com", "api.example.com")).toBe(true);
    expect(matchesName("api.*.com", "API.test.com")).toBe(true);
    expect(matchesName("api.*.com", "api.example.org")).toBe(false);
    expect(matchesName("api.*.com", "api.a.b.com")).toBe(false);
    expect(matchesName("api.*.com", "api..com")).toBe(false);
    expect(matchesName("prod-*.corp.io", "prod-eu1.corp.io")).toBe(true);
    expect(matchesName("prod-*.corp.io", "prod-.corp.io")).toBe(false);
    expect(matchesName("prod-*.corp.io", "prod.corp.io")).toBe(false);
    expect(matchesName("*.example.*", "a.b.example.org")).toBe(true);
    expect(matchesName("*.example.*", "example.org")).toBe(false);
  });

  it("never matches an IP target with a name pattern", () => {
    const target: MatchTarget = { v4: [parseIpv4("10.0.0.1")], v6: [], name: null, countries: [] };
    expect(destinationMatches(parse("*.example.com"), target)).toBe(false);
    expect(destinationMatches(parse("10.0.0.0/8"), target)).toBe(true);
    expect(destinationMatches(parse("*"), target)).toBe(true);
  });
});
