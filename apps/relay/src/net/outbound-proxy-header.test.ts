import { decodeProxyHeader } from "@edgesocks/socks";
import { describe, expect, it } from "vitest";
import { outboundProxyHeader } from "./outbound-proxy-header";

const decoded = (bytes: Uint8Array) => {
  const result = decodeProxyHeader(bytes);
  if (result.status !== "ok") throw new Error(`not a header: ${result.status}`);
  expect(result.length).toBe(bytes.length);
  return result.value;
};

describe("outboundProxyHeader", () => {
  it("writes IPv4-mapped IPv6 ends as IPv4", () => {
    const bytes = outboundProxyHeader(
      "v2",
      { address: "::ffff:127.0.0.5", port: 1 },
      { address: "::ffff:127.0.0.1", port: 2 },
    );
    expect(decoded(bytes)).toMatchObject({
      family: 4,
      source: "127.0.0.5",
      destination: "127.0.0.1",
    });
  });

  it("writes TCP6 with the IPv4 end mapped when the families differ", () => {
    const v2 = outboundProxyHeader(
      "v2",
      { address: "127.0.0.5", port: 1 },
      { address: "::1", port: 2 },
    );
    expect(decoded(v2)).toEqual({
      version: 2,
      command: "proxy",
      family: 6,
      source: "::ffff:127.0.0.5",
      sourcePort: 1,
      destination: "::1",
      destinationPort: 2,
    });
    const v6 = outboundProxyHeader("v2", { address: "::1", port: 3 }, { address: "::1", port: 4 });
    expect(decoded(v6)).toMatchObject({ family: 6, source: "::1", destination: "::1" });
  });

  it("says LOCAL / UNKNOWN when the client has no IP address", () => {
    const hop = { address: "127.0.0.1", port: 2 };
    expect(decoded(outboundProxyHeader("v2", { address: "", port: 0 }, hop))).toEqual({
      version: 2,
      command: "local",
    });
    expect(outboundProxyHeader("v1", { address: "", port: 0 }, hop).toString()).toBe(
      "PROXY UNKNOWN\r\n",
    );
  });
});
