import { describe, expect, it } from "vitest";
import { createRelayMetrics, type RelayMetrics } from "../metrics";
import { startEchoTarget } from "../test-support/targets";
import { EgressGuard } from "./egress-guard";
import { Resolver } from "./resolver";
import {
  parsePoolDestination as parseHostPort,
  UpstreamPool,
  type UpstreamPoolOptions,
} from "./upstream-pool";

const localhost = [{ address: "127.0.0.1", family: 4 as const }];

async function counter(metrics: RelayMetrics, name: "poolHits" | "poolMisses"): Promise<number> {
  return (await metrics[name].get()).values[0]?.value ?? 0;
}

async function evictions(metrics: RelayMetrics, reason: string): Promise<number> {
  const { values } = await metrics.poolEvictions.get();
  return values.find((v) => v.labels.reason === reason)?.value ?? 0;
}

function pool(options: Partial<UpstreamPoolOptions> & Pick<UpstreamPoolOptions, "destinations">) {
  const metrics = createRelayMetrics();
  const upstreamPool = new UpstreamPool({
    perDestination: 2,
    maxTotal: 10,
    idleTimeoutMs: 30_000,
    connectTimeoutMs: 2000,
    metrics,
    ...options,
  });
  upstreamPool.start(new Resolver());
  return {
    pool: upstreamPool,
    metrics,
    [Symbol.dispose]: () => upstreamPool.close(),
  };
}

describe("parseHostPort", () => {
  it("reads names, IPv4 and bracketed IPv6, and refuses the rest", () => {
    expect(parseHostPort("example.com:443")).toEqual({ host: "example.com", port: 443 });
    expect(parseHostPort("10.0.0.1:80")).toEqual({ host: "10.0.0.1", port: 80 });
    expect(parseHostPort("[::1]:8443")).toEqual({ host: "::1", port: 8443 });
    for (const bad of ["example.com", "::1:80", "host:0", "host:70000", ":80"]) {
      expect(parseHostPort(bad)).toBeUndefined();
    }
  });
});

describe("UpstreamPool", () => {
  it("hands out each ready connection once and refills behind it", async () => {
    await using target = await startEchoTarget();
    using p = pool({ destinations: [`127.0.0.1:${target.port}`] });
    await expect.poll(() => p.pool.readyFor("127.0.0.1", target.port)).toBe(2);
    const first = p.pool.take("127.0.0.1", target.port, localhost);
    const second = p.pool.take("127.0.0.1", target.port, localhost);
    expect(first && second).toBeTruthy();
    expect(first!.socket).not.toBe(second!.socket);
    expect(first!.socket.isPaused()).toBe(true);
    expect(await counter(p.metrics, "poolHits")).toBe(2);
    await expect.poll(() => p.pool.readyFor("127.0.0.1", target.port)).toBe(2);
    const third = p.pool.take("127.0.0.1", target.port, localhost);
    expect([first!.socket, second!.socket]).not.toContain(third!.socket);
    for (const taken of [first, second, third]) taken!.socket.destroy();
  });

  it("misses for a listed destination with nothing ready, and ignores unlisted ones", async () => {
    await using target = await startEchoTarget();
    using p = pool({ destinations: [`127.0.0.1:${target.port}`], perDestination: 1 });
    expect(p.pool.take("127.0.0.1", target.port + 1, localhost)).toBeUndefined();
    expect(await counter(p.metrics, "poolMisses")).toBe(0);
    await expect.poll(() => p.pool.readyFor("127.0.0.1", target.port)).toBe(1);
    p.pool.take("127.0.0.1", target.port, localhost)!.socket.destroy();
    expect(p.pool.take("127.0.0.1", target.port, localhost)).toBeUndefined();
    expect(await counter(p.metrics, "poolMisses")).toBe(1);
  });

  it("never hands out a connection to an address the client may not reach", async () => {
    await using target = await startEchoTarget();
    using p = pool({ destinations: [`localhost:${target.port}`] });
    await expect.poll(() => p.pool.readyFor("localhost", target.port)).toBeGreaterThan(0);
    expect(p.pool.take("localhost", target.port, [{ address: "::1", family: 6 }])).toBeUndefined();
    expect(p.pool.take("LOCALHOST", target.port, localhost)).toBeDefined();
  });

  it("replaces connections that sat idle past the idle timeout", async () => {
    const accepted: number[] = [];
    await using target = await startEchoTarget("127.0.0.1", (socket) => {
      accepted.push(socket.remotePort ?? 0);
    });
    using p = pool({
      destinations: [`127.0.0.1:${target.port}`],
      perDestination: 1,
      idleTimeoutMs: 150,
    });
    await expect.poll(() => evictions(p.metrics, "idle")).toBeGreaterThanOrEqual(1);
    await expect.poll(() => accepted.length).toBeGreaterThanOrEqual(2);
  });

  it("throws away a ready connection the server speaks on or closes, and backs off", async () => {
    let accepted = 0;
    await using target = await startEchoTarget("127.0.0.1", (socket) => {
      accepted += 1;
      socket.write("220 banner\r\n");
    });
    using p = pool({ destinations: [`127.0.0.1:${target.port}`], perDestination: 1 });
    await expect.poll(() => evictions(p.metrics, "unsolicited_data")).toBeGreaterThanOrEqual(1);
    expect(p.pool.take("127.0.0.1", target.port, localhost)).toBeUndefined();
    // Short-lived connections count as failures: no tight reconnect loop.
    await new Promise((r) => setTimeout(r, 300));
    expect(accepted).toBeLessThan(5);
  });

  it("gives the slot of the least recently used destination to a busier one when full", async () => {
    await using quiet = await startEchoTarget();
    await using busy = await startEchoTarget();
    using p = pool({
      destinations: [`127.0.0.1:${quiet.port}`, `127.0.0.1:${busy.port}`],
      perDestination: 2,
      maxTotal: 2,
    });
    await expect.poll(() => p.pool.readyCount).toBe(2);
    const quietFirst = p.pool.readyFor("127.0.0.1", quiet.port) === 2;
    const [stale, wanted] = quietFirst ? [quiet, busy] : [busy, quiet];
    expect(p.pool.take("127.0.0.1", wanted.port, localhost)).toBeUndefined();
    await expect.poll(() => p.pool.readyFor("127.0.0.1", wanted.port)).toBe(2);
    expect(p.pool.readyFor("127.0.0.1", stale.port)).toBe(0);
    expect(await evictions(p.metrics, "lru")).toBe(2);
  });

  it("never connects where the egress guard refuses to", async () => {
    let accepted = 0;
    await using target = await startEchoTarget("127.0.0.1", () => {
      accepted += 1;
    });
    const guard = new EgressGuard({
      enabled: true,
      blockedNetworks: [],
      blockOwnPorts: true,
      blockedLocalPorts: [target.port],
    });
    using p = pool({ destinations: [`127.0.0.1:${target.port}`], guard });
    await new Promise((r) => setTimeout(r, 200));
    expect(accepted).toBe(0);
    expect(p.pool.readyCount).toBe(0);
  });
});
