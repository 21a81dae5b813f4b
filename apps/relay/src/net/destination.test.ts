import { describe, expect, it } from "vitest";
import { normalizeDestination, parseInetAton } from "./destination";

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
});
