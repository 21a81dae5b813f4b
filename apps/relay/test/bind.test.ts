import { connect, type Socket } from "node:net";
import { SocksClient, type SocksRemoteHost } from "socks";
import { describe, expect, it } from "vitest";
import { connectRequestV4, RawClient } from "../src/test-support/raw-client";
import { startTestRelay } from "../src/test-support/test-relay";

function connectFrom(localAddress: string, port: number) {
  return new Promise<import("node:net").Socket>((resolve, reject) => {
    const socket = connect({ host: "127.0.0.1", port, localAddress }, () => resolve(socket));
    socket.once("error", reject);
  });
}

describe("BIND", () => {
  it("works with the socks npm client: first reply names a reachable port, second names the peer, then data flows both ways", async () => {
    await using relay = await startTestRelay();
    const client = new SocksClient({
      proxy: { host: "127.0.0.1", port: relay.port, type: 5 },
      command: "bind",
      destination: { host: "127.0.0.1", port: 0 },
      timeout: 5000,
    });
    const bound = new Promise<SocksRemoteHost>((resolve) =>
      client.on("bound", (info) => resolve(info.remoteHost!)),
    );
    const established = new Promise<{ socket: Socket; remoteHost: SocksRemoteHost }>((resolve) =>
      client.on("established", (info) =>
        resolve({ socket: info.socket, remoteHost: info.remoteHost! }),
      ),
    );
    client.connect();
    const announced = await bound;
    expect(announced.host).toBe("127.0.0.1");
    const peer = await connectFrom("127.0.0.1", announced.port);
    const { socket, remoteHost } = await established;
    expect(remoteHost).toEqual({ host: "127.0.0.1", port: peer.localPort });
    peer.write("ping");
    const got = await new Promise<string>((resolve) =>
      socket.once("data", (c: Buffer) => resolve(c.toString())),
    );
    expect(got).toBe("ping");
    socket.destroy();
    peer.destroy();
  });

  it("accepts only the peer named in the request, then relays (SOCKS5, raw)", async () => {
    await using relay = await startTestRelay(`[bind]\ntimeout_ms = 5000\n`);
    using client = await RawClient.open(relay.port);
    client.write([5, 1, 0, ...connectRequestV4("127.0.0.3", 0, 2)]);
    await client.read(2);
    const first = await client.read(10);
    expect([...first.subarray(0, 8)]).toEqual([5, 0, 0, 1, 127, 0, 0, 1]);
    const bindPort = first.readUInt16BE(8);

    const stranger = await connectFrom("127.0.0.2", bindPort);
    await new Promise((resolve) => stranger.on("close", resolve));

    const peer = await connectFrom("127.0.0.3", bindPort);
    const second = await client.read(10);
    expect([...second.subarray(0, 8)]).toEqual([5, 0, 0, 1, 127, 0, 0, 3]);
    expect(second.readUInt16BE(8)).toBe(peer.localPort);

    peer.write("from peer");
    expect((await client.read(9)).toString()).toBe("from peer");
    const got = new Promise<string>((resolve) => peer.once("data", (c) => resolve(c.toString())));
    client.write("from client");
    expect(await got).toBe("from client");
    peer.destroy();

    const metrics = await relay.relay.metrics.registry.getSingleMetricAsString(
      "edgesocks_relay_bind_refused_peers_total",
    );
    expect(metrics).toContain("edgesocks_relay_bind_refused_peers_total 1");
  });

  it("times out with 0x06 when the peer never comes", async () => {
    await using relay = await startTestRelay(`[bind]\ntimeout_ms = 200\n`);
    using client = await RawClient.open(relay.port);
    client.write([5, 1, 0, ...connectRequestV4("127.0.0.3", 0, 2)]);
    await client.read(12);
    expect([...(await client.read(10))]).toEqual([5, 6, 0, 1, 0, 0, 0, 0, 0, 0]);
  });

  it("SOCKS4 BIND: replies 0x5A twice and relays", async () => {
    await using relay = await startTestRelay();
    using client = await RawClient.open(relay.port);
    client.write([4, 2, 0, 0, 127, 0, 0, 1, 0]);
    const first = await client.read(8);
    expect(first[1]).toBe(0x5a);
    const peer = await connectFrom("127.0.0.1", first.readUInt16BE(2));
    const second = await client.read(8);
    expect(second[1]).toBe(0x5a);
    expect([...second.subarray(4)]).toEqual([127, 0, 0, 1]);
    peer.end("hi");
    expect((await client.read(2)).toString()).toBe("hi");
  });

  it("refuses a BIND for a peer the ACL blocks", async () => {
    await using relay = await startTestRelay(
      `[acl]\nenabled = true\nconfig_file = "acl.toml"\n`,
      `[global]\ndefault_policy = "allow"\n[[users]]\nusername = "anonymous"\n[[users.rules]]\naction = "block"\ndestinations = ["127.0.0.9"]\nports = ["*"]\n`,
    );
    using client = await RawClient.open(relay.port);
    client.write([5, 1, 0, ...connectRequestV4("127.0.0.9", 0, 2)]);
    await client.read(2);
    expect((await client.read(10))[1]).toBe(2);
  });
});
