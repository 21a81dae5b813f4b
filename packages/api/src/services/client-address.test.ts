import { createServer, request } from "node:http";
import type { AddressInfo } from "node:net";
import { describe, expect, it } from "vitest";
import { clientAddressOf, TrustedProxies } from "./client-address";

describe("TrustedProxies", () => {
  it("matches addresses and CIDRs, IPv4-mapped peers as IPv4, zone ids ignored", () => {
    const trusted = new TrustedProxies([
      "127.0.0.1",
      "10.0.0.0/8",
      "fd00::/8",
      "::ffff:192.0.2.0/120",
    ]);
    expect(trusted.size).toBe(4);
    expect(trusted.has("127.0.0.1")).toBe(true);
    expect(trusted.has("::ffff:127.0.0.1")).toBe(true);
    expect(trusted.has("10.9.8.7")).toBe(true);
    expect(trusted.has("192.0.2.9")).toBe(true);
    expect(trusted.has("fd12::1%eth0")).toBe(true);
    expect(trusted.has("11.0.0.1")).toBe(false);
    expect(trusted.has("fe80::1")).toBe(false);
    expect(trusted.has("unknown")).toBe(false);
  });

  it("refuses an entry that is neither an address nor a CIDR, naming it", () => {
    for (const entry of ["10.0.0.0/33", "proxy.example.com", "127.1", ""]) {
      expect(() => new TrustedProxies([entry])).toThrow(`trusted proxy "${entry}"`);
    }
  });
});

describe("clientAddressOf", () => {
  it("believes X-Forwarded-For only from a trusted peer, up to the first untrusted hop", async () => {
    const seen: string[] = [];
    let trusted = new TrustedProxies(["127.0.0.1"]);
    const server = createServer((req, res) => {
      seen.push(clientAddressOf(req, trusted));
      res.end();
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as AddressInfo;
    const get = (forwarded: string) =>
      new Promise<void>((resolve, reject) => {
        request({ host: "127.0.0.1", port, headers: { "x-forwarded-for": forwarded } }, (res) => {
          res.resume();
          res.on("end", resolve);
        })
          .on("error", reject)
          .end();
      });
    try {
      await get("203.0.113.5, 198.51.100.7");
      await get("203.0.113.5, not-an-address");
      trusted = new TrustedProxies([]);
      await get("203.0.113.5");
    } finally {
      server.close();
    }
    expect(seen).toEqual(["198.51.100.7", "127.0.0.1", "127.0.0.1"]);
  });
});
