import { describe, expect, it } from "vitest";
import { parseConfigText } from "./load";

describe("PROXY protocol configuration", () => {
  it("is off by default and takes trusted addresses and CIDRs", () => {
    expect(parseConfigText("").config.server.proxy_protocol).toBe("off");
    const { config } = parseConfigText(
      `[server]\nproxy_protocol = "v2"\nproxy_protocol_trusted = ["10.0.0.0/8", "fd00::1"]\n`,
    );
    expect(config.server.proxy_protocol_trusted).toEqual(["10.0.0.0/8", "fd00::1"]);
  });

  it.each([
    [`[server]\nproxy_protocol = "any"\n`, /server\.proxy_protocol_trusted: needs at least one/],
    [
      `[server]\nproxy_protocol = "v3"\nproxy_protocol_trusted = ["10.0.0.1"]\n`,
      /server\.proxy_protocol:/,
    ],
    [
      `[server]\nproxy_protocol = "v1"\nproxy_protocol_trusted = ["10.0.0.0/33"]\n`,
      /server\.proxy_protocol_trusted\[0\]: expected an IP address or CIDR/,
    ],
    [`[server]\nproxy_protocl = "v1"\n`, /server\.proxy_protocl/],
  ])("refuses %j", (text, message) => {
    expect(() => parseConfigText(text)).toThrow(message);
  });
});
