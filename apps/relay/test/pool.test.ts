import type { Socket } from "node:net";
import { describe, expect, it } from "vitest";
import { startEchoTarget } from "../src/test-support/targets";
import { startTestRelay } from "../src/test-support/test-relay";
import { socks5Connect } from "../src/test-support/traffic";

describe("upstream pre-connect pool", () => {
  it("serves CONNECTs from pre-established connections, each carrying one client's bytes only", async () => {
    const upstreams: { socket: Socket; received: string[] }[] = [];
    await using target = await startEchoTarget("127.0.0.1", (socket) => {
      const received: string[] = [];
      upstreams.push({ socket, received });
      socket.on("data", (chunk: Buffer) => {
        received.push(chunk.toString());
        socket.write(chunk);
      });
      socket.on("end", () => socket.end());
    });
    await using relay = await startTestRelay(`
[server.pool]
enabled = true
destinations = ["127.0.0.1:${target.port}"]
connections_per_destination = 2
`);
    const metrics = relay.relay.metrics;
    const ready = async () => (await metrics.poolReady.get()).values[0]?.value ?? 0;
    await expect.poll(ready).toBe(2);
    // Connected ahead of any client, and nothing sent on them yet.
    expect(upstreams.map((u) => u.received.length)).toEqual([0, 0]);

    for (let i = 0; i < 4; i++) {
      await expect.poll(ready).toBe(2);
      const before = upstreams.length;
      const { client, reply } = await socks5Connect(relay.port, "127.0.0.1", target.port);
      expect(reply[1]).toBe(0);
      client.write(`client-${i};`);
      expect((await client.read(9)).toString()).toBe(`client-${i};`);
      client.destroy();
      await relay.waitForRecords(i + 1);
      // The session used a connection that already existed: no new one was dialled for it.
      expect(upstreams.length).toBeLessThanOrEqual(before + 1);
    }
    expect((await metrics.poolHits.get()).values[0]?.value).toBe(4);
    expect((await metrics.poolMisses.get()).values[0]?.value ?? 0).toBe(0);

    const used = upstreams.filter((u) => u.received.length > 0);
    expect(used).toHaveLength(4);
    for (const [i, u] of used.entries()) expect(u.received.join("")).toBe(`client-${i};`);
    // Used once, then closed with the session: never back in the pool.
    await expect.poll(() => used.every((u) => u.socket.destroyed)).toBe(true);
  });

  it("falls back to a normal connect when nothing is ready, and leaves unlisted destinations alone", async () => {
    await using target = await startEchoTarget();
    await using relay = await startTestRelay(`
[server.pool]
enabled = true
destinations = ["127.0.0.1:${target.port}"]
connections_per_destination = 1
`);
    const metrics = relay.relay.metrics;
    await expect.poll(async () => (await metrics.poolReady.get()).values[0]?.value).toBe(1);
    const sessions = await Promise.all(
      [1, 2, 3].map(() => socks5Connect(relay.port, "127.0.0.1", target.port)),
    );
    for (const { client, reply } of sessions) {
      expect(reply[1]).toBe(0);
      client.write("x");
      expect((await client.read(1)).toString()).toBe("x");
      client.destroy();
    }
    // One is ready at first; whether the refill wins the race with the next two varies.
    const hits = (await metrics.poolHits.get()).values[0]?.value ?? 0;
    const misses = (await metrics.poolMisses.get()).values[0]?.value ?? 0;
    expect(hits).toBeGreaterThanOrEqual(1);
    expect(hits + misses).toBe(3);
    await using other = await startEchoTarget();
    const unlisted = await socks5Connect(relay.port, "127.0.0.1", other.port);
    expect(unlisted.reply[1]).toBe(0);
    unlisted.client.destroy();
    expect(
      ((await metrics.poolHits.get()).values[0]?.value ?? 0) +
        ((await metrics.poolMisses.get()).values[0]?.value ?? 0),
    ).toBe(3);
  });
});
