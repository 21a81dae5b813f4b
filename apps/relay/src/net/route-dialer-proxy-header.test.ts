import { Buffer } from "node:buffer";
import type { Socket } from "node:net";
import { Route } from "@edgesocks/policy";
import { decodeProxyHeader } from "@edgesocks/socks";
import { describe, expect, it } from "vitest";
import { createRelayMetrics } from "../metrics";
import { startEchoTarget } from "../test-support/targets";
import { Resolver } from "./resolver";
import { RouteDialer } from "./route-dialer";

/** A raw first hop: keeps the first bytes it reads, then hangs up. */
async function recordingHop() {
  let resolveBytes: (bytes: Buffer) => void = () => {};
  const first = new Promise<Buffer>((resolve) => {
    resolveBytes = resolve;
  });
  const hop = await startEchoTarget("127.0.0.1", (socket: Socket) => {
    let bytes = Buffer.alloc(0);
    socket.on("data", (chunk: Buffer) => {
      bytes = Buffer.concat([bytes, chunk]);
      const header = decodeProxyHeader(bytes);
      // Wait for the whole header and the greeting's first byte behind it (or no header).
      if (header.status === "incomplete") return;
      if (header.status === "ok" && bytes.length <= header.length) return;
      resolveBytes(bytes);
      socket.destroy();
    });
  });
  return { hop, first };
}

function dial(port: number, proxyProtocol?: "v1" | "v2", client = "127.0.0.5") {
  const route = Route.parse({
    name: "r",
    resolve: "remote",
    chains: [
      {
        ...(proxyProtocol ? { proxyProtocol } : {}),
        hops: [{ type: "socks5", host: "127.0.0.1", port }],
      },
    ],
  });
  const dialer = new RouteDialer({ resolver: new Resolver(), metrics: createRelayMetrics() });
  return dialer.dial(
    route,
    { address: { type: "domain", host: "x.test" }, port: 80 },
    { timeoutMs: 2000, closed: () => false, client: { address: client, port: 40001 } },
  );
}

describe("RouteDialer: PROXY header to the first hop", () => {
  it("writes a v2 header naming the client and the hop before the SOCKS5 greeting", async () => {
    const { hop, first } = await recordingHop();
    await using _hop = hop;
    await dial(hop.port, "v2", "::ffff:127.0.0.5");
    const bytes = await first;
    const header = decodeProxyHeader(bytes, 0, "v2");
    expect(header.status).toBe("ok");
    if (header.status !== "ok") return;
    expect(header.value).toEqual({
      version: 2,
      command: "proxy",
      family: 4,
      source: "127.0.0.5",
      sourcePort: 40001,
      destination: "127.0.0.1",
      destinationPort: hop.port,
    });
    expect(bytes[header.length]).toBe(0x05);
  });

  it("writes a v1 line, IPv4-mapped in TCP6 when the client is IPv6", async () => {
    const { hop, first } = await recordingHop();
    await using _hop = hop;
    await dial(hop.port, "v1", "::1");
    const bytes = await first;
    const line = bytes.toString("latin1", 0, bytes.indexOf("\r\n") + 2);
    expect(line).toBe(`PROXY TCP6 ::1 ::ffff:127.0.0.1 40001 ${hop.port}\r\n`);
    expect(bytes[line.length]).toBe(0x05);
  });

  it("sends no header from a chain without proxyProtocol", async () => {
    const { hop, first } = await recordingHop();
    await using _hop = hop;
    await dial(hop.port);
    expect((await first)[0]).toBe(0x05);
  });
});
