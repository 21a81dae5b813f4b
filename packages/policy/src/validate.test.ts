import { ipFamily } from "@edgesocks/socks/address";
import { describe, expect, it } from "vitest";
import { cidrError, destinationError, isIpAddress, portSpecError } from "./validate";

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
});

describe("address fields", () => {
  it.each(["::", "::1", "1:2:3:4:5:6:7:8", "1:2:3:4:5:6:1.2.3.4", "1::", "FE80::ABCD"])(
    "an IPv6 address: %s",
    (text) => {
      expect(ipFamily(text)).toBe(6);
    },
  );
  it.each(["1:2:3:4:5:6:7:8:9", "1::2::3", ":1::", "1:2:3:4:5:6:7:1.2.3.4", "12345::", "::g"])(
    "not an IPv6 address: %s",
    (text) => {
      expect(ipFamily(text)).toBe(0);
    },
  );
  it("isIpAddress takes IPv4 and IPv6 literals, without zone ids or short forms", () => {
    expect(isIpAddress("10.0.0.1")).toBe(true);
    expect(isIpAddress("::ffff:10.0.0.1")).toBe(true);
    expect(isIpAddress("fe80::1%eth0")).toBe(false);
    expect(isIpAddress("127.1")).toBe(false);
    expect(isIpAddress("example.com")).toBe(false);
  });

  it("cidrError names what is wrong", () => {
    expect(cidrError("10.0.0.0/8")).toBeNull();
    expect(cidrError("10.0.0.0/x")).toContain("prefix must be 0-32");
  });
});
