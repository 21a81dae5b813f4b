import fc from "fast-check";
import { describe, expect, it } from "vitest";
// The engine the relays run: the editor must accept exactly what it compiles. Test-only import;
// the app itself cannot bundle @edgesocks/policy (its entry point needs node:crypto).
import { parseDestination } from "../../../../packages/policy/src/acl/destination";
import { parsePortSpec } from "../../../../packages/policy/src/acl/ports";
import { cidrError, isIpv6 } from "./ip";
import {
  destinationError,
  destinationFilterError,
  portSpecError,
  priorityError,
  ruleIdError,
  splitList,
} from "./validate";

describe("destinationError", () => {
  it.each([
    "*",
    "10.0.0.0/8",
    "192.168.1.7",
    "::1",
    "2001:db8::/32",
    "::ffff:10.0.0.1",
    "example.com",
    "Example.COM.",
    "*.dev.company.com",
    "api.*.com",
    "prod-*.example.com",
    "_srv.example.com",
  ])("accepts %s", (value) => {
    expect(destinationError(value)).toBeNull();
  });

  it.each([
    ["10.0.0.0/33", "prefix must be 0-32"],
    ["2001:db8::/129", "prefix must be 0-128"],
    ["10.0.0.256", "not a valid IPv4 address"],
    ["010.0.0.1", "not a valid IPv4 address"],
    ["10.0.0", "not a valid IPv4 address"],
    ["1.2.3.4/", "not a valid CIDR"],
    ["fe80::1%eth0", "not a valid IPv6 address"],
    ["exa mple.com", '" " is not allowed'],
    ["bad..example.com", "empty label"],
    ["bücher.de", "punycode"],
    ["", "destination is empty"],
    [`${"a".repeat(64)}.com`, "longer than 63 characters"],
  ])("refuses %s", (value, message) => {
    expect(destinationError(value)).toContain(message);
  });

  it("agrees with the relays' engine on accept/refuse", () => {
    const alphabet = fc.constantFrom(..."ab0129.:/*-_".split(""));
    fc.assert(
      fc.property(fc.string({ unit: alphabet, minLength: 1, maxLength: 16 }), (value) => {
        expect(destinationError(value) === null).toBe(parseDestination(value).ok);
      }),
      { numRuns: 3000 },
    );
  });
});

describe("portSpecError", () => {
  it.each(["*", "443", "0", "65535", "8000-9000", "80,443,8080", "80, 8000-8100"])(
    "accepts %s",
    (spec) => {
      expect(portSpecError(spec)).toBeNull();
    },
  );

  it.each([
    ["65536", "is not a port"],
    ["http", "is not a port"],
    ["9000-8000", "reversed range"],
    ["80-", "not a port range"],
    ["80,,443", "is not a port"],
    ["1-2-3", "not a port range"],
  ])("refuses %s", (spec, message) => {
    expect(portSpecError(spec)).toContain(message);
  });

  it("agrees with the relays' engine on accept/refuse", () => {
    const alphabet = fc.constantFrom(..."0123456789-,* ".split(""));
    fc.assert(
      fc.property(fc.string({ unit: alphabet, minLength: 0, maxLength: 14 }), (spec) => {
        expect(portSpecError(spec) === null).toBe(parsePortSpec(spec).ok);
      }),
      { numRuns: 3000 },
    );
  });
});

describe("ip", () => {
  it.each(["::", "::1", "1:2:3:4:5:6:7:8", "1:2:3:4:5:6:1.2.3.4", "1::", "FE80::ABCD"])(
    "isIpv6(%s)",
    (text) => {
      expect(isIpv6(text)).toBe(true);
    },
  );
  it.each(["1:2:3:4:5:6:7:8:9", "1::2::3", ":1::", "1:2:3:4:5:6:7:1.2.3.4", "12345::", "::g"])(
    "not isIpv6(%s)",
    (text) => {
      expect(isIpv6(text)).toBe(false);
    },
  );
  it("cidrError names what is wrong", () => {
    expect(cidrError("10.0.0.0/8")).toBeNull();
    expect(cidrError("10.0.0.0/x")).toContain("prefix must be 0-32");
  });
});

describe("other fields", () => {
  it("priority is a bounded whole number", () => {
    expect(priorityError("100")).toBeNull();
    expect(priorityError("-5")).toBeNull();
    expect(priorityError("1.5")).toContain("whole number");
    expect(priorityError("2000000")).toContain("between");
  });

  it("rule ids follow the API's pattern", () => {
    expect(ruleIdError("")).toBeNull();
    expect(ruleIdError("allow-web.1")).toBeNull();
    expect(ruleIdError("-x")).not.toBeNull();
    expect(ruleIdError("has space")).not.toBeNull();
  });

  it("history destination filter takes a host, *.domain, IP or CIDR", () => {
    expect(destinationFilterError("")).toBeNull();
    expect(destinationFilterError("example.com")).toBeNull();
    expect(destinationFilterError("*.example.com")).toBeNull();
    expect(destinationFilterError("10.0.0.0/8")).toBeNull();
    expect(destinationFilterError("10.0.0.0/40")).toContain("prefix");
    expect(destinationFilterError("a*b.com")).toContain("not a host");
  });

  it("splitList splits on commas, spaces and new lines", () => {
    expect(splitList(" a.com, b.com\n10.0.0.0/8  ,, ")).toEqual(["a.com", "b.com", "10.0.0.0/8"]);
  });
});
