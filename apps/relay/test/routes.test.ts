import { connect, type Socket } from "node:net";
import { describe, expect, it } from "vitest";
import type { RelayMetrics } from "../src/metrics";
import { startDante, startMicrosocks, startTinyproxy } from "../src/test-support/parent-proxies";
import { RawClient } from "../src/test-support/raw-client";
import { curlVia } from "../src/test-support/run";
import { startSocks5Parent } from "../src/test-support/socks5-parent";
import { closedPort, startHttpTarget } from "../src/test-support/targets";
import { startTestRelay, type TestRelay } from "../src/test-support/test-relay";

// Anonymous clients; every CONNECT is allowed by one rule that names the route under test.
const config = `
[acl]
enabled = true
config_file = "acl.toml"

[dns.hosts]
"local-name.test" = "127.0.0.1"
`;

type Hop = Record<string, string | number>;

const tomlValue = (v: string | number) => (typeof v === "number" ? String(v) : JSON.stringify(v));
const hopToml = (hop: Hop) =>
  `{ ${Object.entries(hop)
    .map(([k, v]) => `${k} = ${tomlValue(v)}`)
    .join(", ")} }`;

/** An acl.toml with route `r` of these chains, and the rule sending everything through it. */
function routedAcl(chains: Hop[][], extra = "", resolve = "remote"): string {
  return `
[global]
default_policy = "block"

[[routes]]
name = "r"
resolve = "${resolve}"
max_fails = 1
fail_timeout_secs = 60
${chains.map((hops) => `[[routes.chains]]\nhops = [${hops.map(hopToml).join(", ")}]`).join("\n")}

[[users]]
username = "anonymous"
${extra}
[[users.rules]]
id = "via-r"
action = "allow"
destinations = ["*"]
ports = ["*"]
route = "r"
`;
}

const socks5 = (port: number, extra: Hop = {}): Hop => ({
  type: "socks5",
  host: "127.0.0.1",
  port,
  ...extra,
});

async function counter(
  metrics: RelayMetrics,
  name: "routeConnections" | "routeHopFailures",
): Promise<Record<string, number>> {
  const { values } = await metrics[name].get();
  return Object.fromEntries(values.map((v) => [Object.values(v.labels).join("|"), v.value]));
}

async function fetchVia(relay: TestRelay, url: string) {
  return curlVia("--socks5-hostname", relay.proxy, url);
}

describe("upstream routes through real parents", () => {
  it("routes through microsocks, with and without RFC 1929 credentials", async () => {
    await using target = await startHttpTarget("via microsocks");
    await using open = await startMicrosocks();
    await using locked = await startMicrosocks({
      credentials: { username: "relay", password: "s3cret" },
    });
    const url = `http://127.0.0.1:${target.port}/`;

    await using plain = await startTestRelay(config, routedAcl([[socks5(open.port)]]));
    expect(await fetchVia(plain, url)).toMatchObject({ code: 0, stdout: "via microsocks" });
    const [record] = await plain.waitForRecords(1);
    expect(record).toMatchObject({ status: "closed", route: "r#0", ruleId: "via-r" });

    await using authed = await startTestRelay(
      config,
      routedAcl([[socks5(locked.port, { username: "relay", password: "s3cret" })]]),
    );
    expect(await fetchVia(authed, url)).toMatchObject({ code: 0, stdout: "via microsocks" });

    await using wrong = await startTestRelay(
      config,
      routedAcl([[socks5(locked.port, { username: "relay", password: "nope" })]]),
    );
    const refused = await fetchVia(wrong, url);
    expect(refused.code).not.toBe(0);
    const [failed] = await wrong.waitForRecords(1);
    expect(failed).toMatchObject({
      status: "failed",
      route: "r#0",
      closeReason: "route_failed:chain0.hop1:auth",
    });
    expect(await counter(wrong.relay.metrics, "routeHopFailures")).toEqual({
      [`r|socks5://127.0.0.1:${locked.port}`]: 1,
    });
  });

  it("routes through Dante, and through a chain of two (microsocks, then Dante)", async () => {
    await using target = await startHttpTarget("via dante");
    await using dante = await startDante();
    // microsocks connects on from 127.0.0.3, so Dante's log shows who its client was.
    await using micro = await startMicrosocks({ bindAddress: "127.0.0.3" });
    const url = `http://127.0.0.1:${target.port}/`;

    await using one = await startTestRelay(config, routedAcl([[socks5(dante.port)]]));
    expect(await fetchVia(one, url)).toMatchObject({ code: 0, stdout: "via dante" });

    await using two = await startTestRelay(
      config,
      routedAcl([[socks5(micro.port), socks5(dante.port)]]),
    );
    expect(await fetchVia(two, url)).toMatchObject({ code: 0, stdout: "via dante" });
    // Dante's log names the client it served: microsocks (127.0.0.3), not the relay.
    expect(dante.output()).toMatch(/tcp\/connect \[: 127\.0\.0\.3\./);
  });

  it("routes through tinyproxy with HTTP CONNECT and Basic credentials", async () => {
    await using target = await startHttpTarget("via tinyproxy");
    await using tiny = await startTinyproxy({
      connectPorts: [target.port],
      credentials: { username: "relay", password: "s3cret" },
    });
    const http = (extra: Hop = {}): Hop => ({
      type: "http",
      host: "127.0.0.1",
      port: tiny.port,
      ...extra,
    });
    const url = `http://127.0.0.1:${target.port}/`;

    await using relay = await startTestRelay(
      config,
      routedAcl([[http({ username: "relay", password: "s3cret" })]]),
    );
    expect(await fetchVia(relay, url)).toMatchObject({ code: 0, stdout: "via tinyproxy" });

    await using anonymous = await startTestRelay(config, routedAcl([[http()]]));
    expect((await fetchVia(anonymous, url)).code).not.toBe(0);
    const [record] = await anonymous.waitForRecords(1);
    expect(record!.closeReason).toBe("route_failed:chain0.hop1:auth");
  });

  it("fails over from a dead first chain to the next, and then skips the dead one", async () => {
    await using target = await startHttpTarget("failed over");
    await using micro = await startMicrosocks();
    const dead = await closedPort();
    await using relay = await startTestRelay(
      config,
      routedAcl([[socks5(dead)], [socks5(micro.port)]]),
    );
    const url = `http://127.0.0.1:${target.port}/`;
    expect(await fetchVia(relay, url)).toMatchObject({ code: 0, stdout: "failed over" });
    expect(await fetchVia(relay, url)).toMatchObject({ code: 0, stdout: "failed over" });
    const records = await relay.waitForRecords(2);
    expect(records.map((r) => r.route)).toEqual(["r#1", "r#1"]);
    // max_fails = 1: the dead hop failed once, then was skipped.
    expect(await counter(relay.relay.metrics, "routeHopFailures")).toEqual({
      [`r|socks5://127.0.0.1:${dead}`]: 1,
    });
    expect(await counter(relay.relay.metrics, "routeConnections")).toEqual({ "r|ok": 2 });
  });

  it("passes the name to the last hop unresolved (remote), or the address it resolved (local)", async () => {
    await using target = await startHttpTarget("resolved by the parent");
    // A name nothing on this machine resolves; only this parent knows it.
    await using parent = await startSocks5Parent({
      hosts: { "only-the-parent-knows.test": "127.0.0.1" },
    });
    await using remote = await startTestRelay(config, routedAcl([[socks5(parent.port)]]));
    const result = await fetchVia(remote, `http://only-the-parent-knows.test:${target.port}/`);
    expect(result).toMatchObject({ code: 0, stdout: "resolved by the parent" });
    expect(parent.requests[0]!.address).toEqual({
      type: "domain",
      host: "only-the-parent-knows.test",
    });
    // The relay never asked its resolver.
    expect((await remote.relay.metrics.dnsFailures.get()).values).toEqual([]);
    expect(
      (await remote.relay.metrics.dnsDuration.get()).values.find((v) =>
        v.metricName?.endsWith("_count"),
      )?.value ?? 0,
    ).toBe(0);
    const [record] = await remote.waitForRecords(1);
    expect(record).toMatchObject({
      destinationHost: "only-the-parent-knows.test",
      destinationAddress: null,
    });

    await using local = await startTestRelay(
      config,
      routedAcl([[socks5(parent.port)]], "", "local"),
    );
    await fetchVia(local, `http://local-name.test:${target.port}/`);
    expect(parent.requests[1]!.address).toEqual({ type: "ipv4", host: "127.0.0.1" });
  });

  it("refuses a remotely resolved name when a block rule on addresses could apply", async () => {
    await using parent = await startSocks5Parent({ hosts: { "x.test": "127.0.0.1" } });
    const block = `[[users.rules]]
action = "block"
destinations = ["127.0.0.0/8"]
ports = ["22"]
`;
    await using relay = await startTestRelay(config, routedAcl([[socks5(parent.port)]], block));
    const client = await RawClient.open(relay.port);
    client.write([5, 1, 0]);
    expect([...(await client.read(2))]).toEqual([5, 0]);
    const name = Buffer.from("x.test");
    client.write([5, 1, 0, 3, name.length, ...name, 0, 22]);
    expect((await client.read(10))[1]).toBe(2);
    const [record] = await relay.waitForRecords(1);
    expect(record).toMatchObject({ closeReason: "acl_unresolved", decision: "block" });
    expect(parent.requests).toEqual([]);
  });

  it("BINDs through Dante: its bound address and its peer are our replies, then data flows", async () => {
    await using dante = await startDante();
    // The first hop is microsocks, so the chain's earlier hop is a CONNECT tunnel.
    await using micro = await startMicrosocks();
    for (const hops of [[socks5(dante.port)], [socks5(micro.port), socks5(dante.port)]]) {
      await using relay = await startTestRelay(
        `${config}\n[bind]\nenabled = true\ntimeout_ms = 5000\n`,
        routedAcl([hops]),
      );
      using client = await RawClient.open(relay.port);
      client.write([5, 1, 0]);
      expect([...(await client.read(2))]).toEqual([5, 0]);
      client.write([5, 2, 0, 1, 127, 0, 0, 3, 0, 0]);
      const first = await client.read(10);
      // Dante listens on its external address, not on the relay's.
      expect([...first.subarray(0, 8)]).toEqual([5, 0, 0, 1, 127, 0, 0, 2]);
      const peer = await connectTo("127.0.0.2", first.readUInt16BE(8), "127.0.0.3");
      const second = await client.read(10);
      expect([...second.subarray(0, 8)]).toEqual([5, 0, 0, 1, 127, 0, 0, 3]);
      expect(second.readUInt16BE(8)).toBe(peer.localPort);
      peer.write("from peer");
      expect((await client.read(9)).toString()).toBe("from peer");
      const got = new Promise<string>((resolve) => peer.once("data", (c) => resolve(`${c}`)));
      client.write("from client");
      expect(await got).toBe("from client");
      peer.destroy();
      client.destroy();
      const [record] = await relay.waitForRecords(1);
      expect(record).toMatchObject({ command: "bind", route: "r#0", ruleId: "via-r" });
      expect(await counter(relay.relay.metrics, "routeConnections")).toEqual({ "r|ok": 1 });
    }
  });

  it("BINDs with SOCKS4a to a socks4a last hop (Dante), the client speaking SOCKS4", async () => {
    await using dante = await startDante();
    await using relay = await startTestRelay(
      `${config}\n[bind]\nenabled = true\ntimeout_ms = 5000\n`,
      routedAcl([[{ type: "socks4a", host: "127.0.0.1", port: dante.port }]]),
    );
    using client = await RawClient.open(relay.port);
    client.write([4, 2, 0, 0, 127, 0, 0, 3, 0]);
    const first = await client.read(8);
    expect(first[1]).toBe(0x5a);
    // Dante listens on its external address, not on the relay's.
    expect([...first.subarray(4, 8)].join(".")).toBe("127.0.0.2");
    const peer = await connectTo("127.0.0.2", first.readUInt16BE(2), "127.0.0.3");
    const second = await client.read(8);
    expect(second[1]).toBe(0x5a);
    expect([...second.subarray(4, 8)]).toEqual([127, 0, 0, 3]);
    peer.write("v4 peer");
    expect((await client.read(7)).toString()).toBe("v4 peer");
    peer.destroy();
    client.destroy();
    const [record] = await relay.waitForRecords(1);
    expect(record).toMatchObject({ protocol: "socks4", command: "bind", route: "r#0" });
  });

  it("fails BIND over from a dead chain to Dante, counting the dead hop", async () => {
    await using dante = await startDante();
    const dead = await closedPort();
    await using relay = await startTestRelay(
      `${config}\n[bind]\nenabled = true\n`,
      routedAcl([[socks5(dead)], [socks5(dante.port)]]),
    );
    using client = await RawClient.open(relay.port);
    client.write([5, 1, 0]);
    await client.read(2);
    client.write([5, 2, 0, 1, 127, 0, 0, 1, 0, 0]);
    const first = await client.read(10);
    expect([...first.subarray(0, 8)]).toEqual([5, 0, 0, 1, 127, 0, 0, 2]);
    expect(await counter(relay.relay.metrics, "routeHopFailures")).toEqual({
      [`r|socks5://127.0.0.1:${dead}`]: 1,
    });
    const peer = await connectTo("127.0.0.2", first.readUInt16BE(8), "127.0.0.1");
    expect([...(await client.read(10)).subarray(0, 8)]).toEqual([5, 0, 0, 1, 127, 0, 0, 1]);
    peer.destroy();
    client.destroy();
    const [record] = await relay.waitForRecords(1);
    expect(record).toMatchObject({ route: "r#1", status: "closed" });
  });

  it("refuses BIND with 0x07 when the route's last hop is HTTP", async () => {
    const port = await closedPort();
    await using relay = await startTestRelay(
      `${config}\n[bind]\nenabled = true\n`,
      routedAcl([[{ type: "http", host: "127.0.0.1", port }]]),
    );
    const client = await RawClient.open(relay.port);
    client.write([5, 1, 0]);
    expect([...(await client.read(2))]).toEqual([5, 0]);
    client.write([5, 2, 0, 1, 127, 0, 0, 1, 0, 80]);
    expect((await client.read(10))[1]).toBe(7);
    const [record] = await relay.waitForRecords(1);
    expect(record).toMatchObject({
      closeReason: "route_bind_unsupported:http_last_hop",
      route: "r",
    });
  });
});

function connectTo(host: string, port: number, localAddress: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port, localAddress }, () => resolve(socket));
    socket.once("error", reject);
  });
}
