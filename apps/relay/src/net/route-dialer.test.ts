import type { Socket } from "node:net";
import { Route, type RouteInput } from "@edgesocks/policy";
import { Reply } from "@edgesocks/socks";
import { describe, expect, it } from "vitest";
import { createRelayMetrics } from "../metrics";
import { startSocks5Parent } from "../test-support/socks5-parent";
import { closedPort, startEchoTarget } from "../test-support/targets";
import { EgressGuard } from "./egress-guard";
import { Resolver } from "./resolver";
import { RouteDialer } from "./route-dialer";

const route = (input: Omit<RouteInput, "resolve" | "name"> & Partial<RouteInput>): Route =>
  Route.parse({ name: "r", resolve: "remote", ...input });
const socks5 = (port: number, extra: object = {}) => ({
  type: "socks5" as const,
  host: "127.0.0.1",
  port,
  ...extra,
});
const target = (host: string, port: number) => ({
  address: { type: "domain" as const, host },
  port,
});
const options = {
  timeoutMs: 5000,
  closed: () => false,
  client: { address: "127.0.0.9", port: 40000 },
};

function dialer(egress?: EgressGuard) {
  const metrics = createRelayMetrics();
  return { metrics, dialer: new RouteDialer({ resolver: new Resolver(), egress, metrics }) };
}

async function echoes(socket: Socket, text: string): Promise<string> {
  socket.resume();
  socket.write(text);
  return new Promise((resolve) => socket.once("data", (chunk: Buffer) => resolve(String(chunk))));
}

describe("RouteDialer", () => {
  it("negotiates a two-hop chain, passing the destination name to the last hop unresolved", async () => {
    await using echo = await startEchoTarget();
    await using last = await startSocks5Parent({
      hosts: { "only-the-parent-knows.test": "127.0.0.1" },
    });
    await using first = await startSocks5Parent();
    const { dialer: d } = dialer();
    const result = await d.dial(
      route({ chains: [{ hops: [socks5(first.port), socks5(last.port)] }] }),
      target("only-the-parent-knows.test", echo.port),
      options,
    );
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(await echoes(result.socket, "ping")).toBe("ping");
    result.socket.destroy();
    expect(first.requests).toEqual([
      { address: { type: "ipv4", host: "127.0.0.1" }, port: last.port, username: null },
    ]);
    expect(last.requests).toEqual([
      {
        address: { type: "domain", host: "only-the-parent-knows.test" },
        port: echo.port,
        username: null,
      },
    ]);
  });

  it("sends a hop its own credentials, and names the hop when they are refused", async () => {
    await using echo = await startEchoTarget();
    await using parent = await startSocks5Parent({
      hosts: { echo: "127.0.0.1" },
      credentials: { username: "relay", password: "s3cret" },
    });
    const { dialer: d } = dialer();
    const good = await d.dial(
      route({
        chains: [{ hops: [socks5(parent.port, { username: "relay", password: "s3cret" })] }],
      }),
      target("echo", echo.port),
      options,
    );
    expect(good.ok).toBe(true);
    if (good.ok) good.socket.destroy();
    expect(parent.requests[0]!.username).toBe("relay");

    const bad = await d.dial(
      route({
        chains: [{ hops: [socks5(parent.port, { username: "relay", password: "wrong" })] }],
      }),
      target("echo", echo.port),
      options,
    );
    expect(bad.ok).toBe(false);
    if (bad.ok) return;
    expect(bad.failures.map((f) => [f.code, f.hop, f.kind])).toEqual([
      ["RELAY_E_ROUTE_HOP", 0, "auth"],
    ]);
    expect(bad.reason).toBe("route_failed:chain0.hop1:auth");
    expect(bad.reply).toBe(Reply.GeneralFailure);
  });

  it("fails over from a dead chain, then skips it while it is marked down", async () => {
    await using echo = await startEchoTarget();
    await using parent = await startSocks5Parent({ hosts: { echo: "127.0.0.1" } });
    const dead = await closedPort();
    const { dialer: d, metrics } = dialer();
    const r = route({
      maxFails: 1,
      failTimeoutSecs: 60,
      chains: [{ hops: [socks5(dead)] }, { hops: [socks5(parent.port)] }],
    });
    const first = await d.dial(r, target("echo", echo.port), options);
    expect(first.ok && first.chain).toBe(1);
    if (first.ok) first.socket.destroy();
    const second = await d.dial(r, target("echo", echo.port), options);
    expect(second.ok && second.chain).toBe(1);
    if (second.ok) second.socket.destroy();
    const failures = await metrics.routeHopFailures.get();
    expect(failures.values).toEqual([
      { labels: { route: "r", hop: `socks5://127.0.0.1:${dead}` }, value: 1 },
    ]);
    const connections = await metrics.routeConnections.get();
    expect(connections.values).toEqual([{ labels: { route: "r", result: "ok" }, value: 2 }]);
  });

  it("blames the next hop when a hop cannot reach it", async () => {
    await using parent = await startSocks5Parent();
    const dead = await closedPort();
    const { dialer: d } = dialer();
    const result = await d.dial(
      route({ chains: [{ hops: [socks5(parent.port), socks5(dead)] }] }),
      target("x.test", 80),
      options,
    );
    expect(!result.ok && result.failures.map((f) => [f.hop, f.kind])).toEqual([[1, "unreachable"]]);
  });

  it("passes the last hop's refusal of the destination on, without failing over", async () => {
    await using parent = await startSocks5Parent();
    await using other = await startSocks5Parent();
    const { dialer: d } = dialer();
    const result = await d.dial(
      route({ chains: [{ hops: [socks5(parent.port)] }, { hops: [socks5(other.port)] }] }),
      target("nowhere.test", 80),
      options,
    );
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.reply).toBe(Reply.HostUnreachable);
    expect(result.reason).toBe("route_destination_failed:reply 0x04");
    expect(other.requests).toEqual([]);
  });

  it("applies the egress guard to the first hop's address", async () => {
    await using parent = await startSocks5Parent();
    const guard = new EgressGuard({
      enabled: true,
      blockedNetworks: ["127.0.0.1/32"],
      blockOwnPorts: false,
      blockedLocalPorts: [],
    });
    const { dialer: d } = dialer(guard);
    const result = await d.dial(
      route({ chains: [{ hops: [socks5(parent.port)] }] }),
      target("x.test", 80),
      options,
    );
    expect(!result.ok && [result.reply, result.failures[0]!.kind]).toEqual([
      Reply.NotAllowed,
      "egress_guard",
    ]);
    expect(parent.requests).toEqual([]);
  });

  it("gives up on a hop that never answers within the connect budget", async () => {
    await using silent = await startEchoTarget("127.0.0.1", () => {});
    const { dialer: d } = dialer();
    const result = await d.dial(
      route({ chains: [{ hops: [socks5(silent.port)] }] }),
      target("x.test", 80),
      { ...options, timeoutMs: 200 },
    );
    expect(!result.ok && result.failures.map((f) => f.kind)).toEqual(["timeout"]);
  });

  it("refuses at once when every chain is marked down", async () => {
    const dead = await closedPort();
    const { dialer: d } = dialer();
    const r = route({ chains: [{ hops: [socks5(dead)] }] });
    await d.dial(r, target("x.test", 80), options);
    const result = await d.dial(r, target("x.test", 80), options);
    expect(!result.ok && result.reason).toBe("route_unavailable:r");
  });
});
