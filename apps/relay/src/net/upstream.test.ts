import { createServer } from "node:net";
import { Reply } from "@edgesocks/socks";
import { describe, expect, it } from "vitest";
import { connectUpstream, interleaveFamilies } from "./upstream";

const v4 = (address: string) => ({ address, family: 4 as const });
const v6 = (address: string) => ({ address, family: 6 as const });

describe("connectUpstream (Happy Eyeballs)", () => {
  it("interleaves the families, starting with the first address's (RFC 8305 §4)", () => {
    expect(
      interleaveFamilies([
        v6("2001:db8::1"),
        v6("2001:db8::2"),
        v4("192.0.2.1"),
        v6("2001:db8::3"),
      ]),
    ).toEqual([v6("2001:db8::1"), v4("192.0.2.1"), v6("2001:db8::2"), v6("2001:db8::3")]);
    expect(interleaveFamilies([])).toEqual([]);
  });

  it("moves on at once when an address refuses, and connects to the next", async () => {
    const server = createServer((socket) => socket.end());
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as { port: number };
    try {
      // Nothing listens on 127.0.0.2 at that port: refused.
      const result = await connectUpstream([v4("127.0.0.2"), v4("127.0.0.1")], {
        port,
        timeoutMs: 5000,
      });
      expect(result.ok && result.address).toEqual(v4("127.0.0.1"));
      if (result.ok) result.socket.destroy();
    } finally {
      server.close();
    }
  });

  it("reports the last failure when every address fails", async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as { port: number };
    server.close();
    const result = await connectUpstream([v4("127.0.0.1"), v4("127.0.0.2")], {
      port,
      timeoutMs: 5000,
    });
    expect(result).toEqual({ ok: false, reply: Reply.ConnectionRefused, code: "ECONNREFUSED" });
    expect(await connectUpstream([], { port, timeoutMs: 5000 })).toMatchObject({
      ok: false,
      code: "ENOADDRESS",
    });
  });
});
