import { type AddressInfo, connect, createServer, type Server } from "node:net";
import { encodeProxyHeaderV2 } from "@edgesocks/socks";
import { describe, expect, it } from "vitest";
import { startHaproxy, startMicrosocks } from "../src/test-support/parent-proxies";
import { curlVia } from "../src/test-support/run";
import { startHttpTarget } from "../src/test-support/targets";
import { startTestRelay, type TestRelay } from "../src/test-support/test-relay";

const config = `
[acl]
enabled = true
config_file = "acl.toml"
`;

/** Route `r`: one chain through HAProxy's port, with `chainKeys` on the chain. */
function acl(port: number, chainKeys: string): string {
  return `
[global]
default_policy = "block"

[[routes]]
name = "r"
resolve = "remote"
[[routes.chains]]
${chainKeys}
hops = [{ type = "socks5", host = "127.0.0.1", port = ${port} }]

[[users]]
username = "anonymous"
[[users.rules]]
id = "via-r"
action = "allow"
destinations = ["*"]
ports = ["*"]
route = "r"
`;
}

/** curl through the relay from `from` (a loopback address the client binds). */
function fetchFrom(relay: TestRelay, from: string, url: string) {
  return curlVia("--socks5-hostname", relay.proxy, url, ["--interface", from]);
}

/**
 * A balancer in front of the relay: prepends a v2 header naming `claimed` as the client, then
 * pipes. The relay sees the balancer (127.0.0.1) as peer and `claimed` as the client.
 */
async function startBalancer(relayPort: number, claimed: string) {
  const server: Server = createServer((client) => {
    const upstream = connect(relayPort, "127.0.0.1");
    upstream.write(
      encodeProxyHeaderV2({
        version: 2,
        command: "proxy",
        family: 4,
        source: claimed,
        sourcePort: 41000,
        destination: "127.0.0.1",
        destinationPort: relayPort,
      }),
    );
    client.pipe(upstream).pipe(client);
    client.on("error", () => upstream.destroy());
    upstream.on("error", () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const close = () => new Promise<void>((resolve) => server.close(() => resolve()));
  return { port: (server.address() as AddressInfo).port, [Symbol.asyncDispose]: close };
}

describe("a route's PROXY header to its first hop (HAProxy with accept-proxy)", () => {
  it("carries the SOCKS client's address: HAProxy logs it and lets only 127.0.0.5 through", async () => {
    await using target = await startHttpTarget("via haproxy");
    await using micro = await startMicrosocks();
    await using haproxy = await startHaproxy({ backendPort: micro.port, allowSource: "127.0.0.5" });
    const url = `http://127.0.0.1:${target.port}/`;
    await using relay = await startTestRelay(config, acl(haproxy.port, 'proxy_protocol = "v2"'));

    expect(await fetchFrom(relay, "127.0.0.5", url)).toMatchObject({
      code: 0,
      stdout: "via haproxy",
    });
    expect(haproxy.output()).toMatch(/pp-client 127\.0\.0\.5:\d+/);

    const refused = await fetchFrom(relay, "127.0.0.6", url);
    expect(refused.code).not.toBe(0);
    const records = await relay.waitForRecords(2);
    expect(records.map((r) => r.clientAddress).sort()).toEqual(["127.0.0.5", "127.0.0.6"]);
  });

  it("speaks v1 as well", async () => {
    await using target = await startHttpTarget("via haproxy v1");
    await using micro = await startMicrosocks();
    await using haproxy = await startHaproxy({ backendPort: micro.port, allowSource: "127.0.0.5" });
    await using relay = await startTestRelay(config, acl(haproxy.port, 'proxy_protocol = "v1"'));
    const result = await fetchFrom(relay, "127.0.0.5", `http://127.0.0.1:${target.port}/`);
    expect(result).toMatchObject({ code: 0, stdout: "via haproxy v1" });
  });

  it("sends no header from a chain without proxy_protocol (HAProxy refuses the connection)", async () => {
    await using target = await startHttpTarget("unreachable");
    await using micro = await startMicrosocks();
    await using haproxy = await startHaproxy({ backendPort: micro.port, allowSource: "127.0.0.5" });
    await using relay = await startTestRelay(config, acl(haproxy.port, ""));
    const result = await fetchFrom(relay, "127.0.0.5", `http://127.0.0.1:${target.port}/`);
    expect(result.code).not.toBe(0);
    expect(haproxy.output()).not.toMatch(/pp-client 127\.0\.0\.5/);
  });

  it("names the client an inbound PROXY header named, not the balancer", async () => {
    await using target = await startHttpTarget("via both balancers");
    await using micro = await startMicrosocks();
    await using haproxy = await startHaproxy({ backendPort: micro.port, allowSource: "127.0.0.5" });
    const inbound = `${config}
[server]
proxy_protocol = "v2"
proxy_protocol_trusted = ["127.0.0.1/32"]
`;
    await using relay = await startTestRelay(inbound, acl(haproxy.port, 'proxy_protocol = "v2"'));
    const port = Number(relay.proxy.split(":")[1]);
    await using balancer = await startBalancer(port, "127.0.0.5");
    const result = await curlVia(
      "--socks5-hostname",
      `127.0.0.1:${balancer.port}`,
      `http://127.0.0.1:${target.port}/`,
      ["--interface", "127.0.0.1"],
    );
    expect(result).toMatchObject({ code: 0, stdout: "via both balancers" });
    expect(haproxy.output()).toMatch(/pp-client 127\.0\.0\.5:41000/);
  });
});
