import { createSocket, type Socket as UdpSocket } from "node:dgram";
import { decodeUdpHeader, encodeUdpDatagram } from "@edgesocks/socks";
import { describe, expect, it } from "vitest";
import { RawClient } from "../src/test-support/raw-client";
import { run, SYSTEM_PYTHON } from "../src/test-support/run";
import { startTestRelay } from "../src/test-support/test-relay";

/** A DNS-like UDP server: answers each query with "answer:" + its payload, from its own port. */
async function startDnsLikeServer(host = "127.0.0.1") {
  const socket = createSocket("udp4");
  socket.on("message", (message, rinfo) => {
    socket.send(Buffer.concat([Buffer.from("answer:"), message]), rinfo.port, rinfo.address);
  });
  await new Promise<void>((resolve) => socket.bind(0, host, resolve));
  return {
    port: socket.address().port,
    [Symbol.dispose]: () => socket.close(),
  };
}

async function udpClient(
  host = "127.0.0.1",
): Promise<UdpSocket & { next(timeoutMs?: number): Promise<Buffer> }> {
  const socket = createSocket("udp4");
  const queue: Buffer[] = [];
  const waiters: ((b: Buffer) => void)[] = [];
  socket.on("message", (m) => {
    const w = waiters.shift();
    if (w) w(m);
    else queue.push(m);
  });
  await new Promise<void>((resolve) => socket.bind(0, host, resolve));
  return Object.assign(socket, {
    next: (timeoutMs = 2000) =>
      new Promise<Buffer>((resolve, reject) => {
        const queued = queue.shift();
        if (queued) return resolve(queued);
        const timer = setTimeout(() => reject(new Error("no datagram")), timeoutMs);
        waiters.push((b) => {
          clearTimeout(timer);
          resolve(b);
        });
      }),
  });
}

async function associate(relayPort: number) {
  const control = await RawClient.open(relayPort);
  control.write([5, 1, 0, 5, 3, 0, 1, 0, 0, 0, 0, 0, 0]);
  await control.read(2);
  const reply = await control.read(10);
  expect(reply[1]).toBe(0);
  expect([...reply.subarray(4, 8)]).toEqual([127, 0, 0, 1]);
  return { control, port: reply.readUInt16BE(8) };
}

describe("UDP ASSOCIATE", () => {
  it("relays a DNS-style request/response with python3-socks", async () => {
    using server = await startDnsLikeServer();
    await using relay = await startTestRelay();
    const script = `
import socket, socks, sys
s = socks.socksocket(socket.AF_INET, socket.SOCK_DGRAM)
s.set_proxy(socks.SOCKS5, "127.0.0.1", ${relay.port})
s.settimeout(5)
s.sendto(b"query-1", ("127.0.0.1", ${server.port}))
data, addr = s.recvfrom(2048)
sys.stdout.write(data.decode() + " " + addr[0] + ":" + str(addr[1]))
`;
    const result = await run(SYSTEM_PYTHON, ["-c", script]);
    expect(result.stderr).toBe("");
    expect(result.stdout).toBe(`answer:query-1 127.0.0.1:${server.port}`);
    const [record] = await relay.waitForRecords(1);
    expect(record).toMatchObject({
      command: "udp",
      packetsUp: 1,
      packetsDown: 1,
      bytesUp: 7,
      bytesDown: 14,
    });
  });

  it("relays raw datagrams both ways, wrapping replies with their source", async () => {
    using server = await startDnsLikeServer();
    await using relay = await startTestRelay();
    const { control, port } = await associate(relay.port);
    const client = await udpClient();
    client.send(
      encodeUdpDatagram(
        { frag: 0, address: { type: "ipv4", host: "127.0.0.1" }, port: server.port },
        Buffer.from("q"),
      ),
      port,
      "127.0.0.1",
    );
    const reply = await client.next();
    const header = decodeUdpHeader(reply);
    expect(header.status).toBe("ok");
    if (header.status !== "ok") return;
    expect(header.value).toEqual({
      frag: 0,
      address: { type: "ipv4", host: "127.0.0.1" },
      port: server.port,
    });
    expect(reply.subarray(header.length).toString()).toBe("answer:q");
    client.close();
    control.destroy();
  });

  it("drops spoofed sources, fragments and malformed datagrams, counting each", async () => {
    using server = await startDnsLikeServer();
    await using relay = await startTestRelay();
    const { control, port } = await associate(relay.port);
    const owner = await udpClient();
    const spoofer = await udpClient("127.0.0.2");
    const to = {
      frag: 0,
      address: { type: "ipv4" as const, host: "127.0.0.1" },
      port: server.port,
    };
    // The owner's first datagram pins the client port.
    owner.send(encodeUdpDatagram(to, Buffer.from("a")), port, "127.0.0.1");
    await owner.next();
    spoofer.send(encodeUdpDatagram(to, Buffer.from("spoof")), port, "127.0.0.1");
    owner.send(encodeUdpDatagram({ ...to, frag: 1 }, Buffer.from("frag")), port, "127.0.0.1");
    owner.send(Buffer.from([0, 0, 0, 9, 9]), port, "127.0.0.1");
    await expect(spoofer.next(300)).rejects.toThrow("no datagram");
    await expect(owner.next(300)).rejects.toThrow("no datagram");
    const metrics = await relay.relay.metrics.registry.getSingleMetricAsString(
      "edgesocks_relay_udp_datagrams_total",
    );
    expect(metrics).toContain('direction="dropped",reason="unknown_source"} 1');
    expect(metrics).toContain('direction="dropped",reason="fragmented"} 1');
    expect(metrics).toContain('direction="dropped",reason="malformed"} 1');
    owner.close();
    spoofer.close();
    control.destroy();
  });

  it("tears the association down when the TCP connection closes", async () => {
    using server = await startDnsLikeServer();
    await using relay = await startTestRelay();
    const { control, port } = await associate(relay.port);
    control.destroy();
    const [record] = await relay.waitForRecords(1);
    expect(record!.command).toBe("udp");
    const client = await udpClient();
    client.send(
      encodeUdpDatagram(
        { frag: 0, address: { type: "ipv4", host: "127.0.0.1" }, port: server.port },
        Buffer.from("late"),
      ),
      port,
      "127.0.0.1",
    );
    await expect(client.next(300)).rejects.toThrow("no datagram");
    client.close();
  });

  it("evaluates the ACL per destination with protocol udp", async () => {
    using allowed = await startDnsLikeServer();
    using blocked = await startDnsLikeServer("127.0.0.5");
    await using relay = await startTestRelay(
      `[acl]\nenabled = true\nconfig_file = "acl.toml"\n`,
      `[global]\ndefault_policy = "allow"\n[[users]]\nusername = "anonymous"\n[[users.rules]]\naction = "block"\ndestinations = ["127.0.0.5"]\nports = ["*"]\nprotocols = ["udp"]\n`,
    );
    const { control, port } = await associate(relay.port);
    const client = await udpClient();
    const send = (host: string, p: number) =>
      client.send(
        encodeUdpDatagram({ frag: 0, address: { type: "ipv4", host }, port: p }, Buffer.from("x")),
        port,
        "127.0.0.1",
      );
    send("127.0.0.1", allowed.port);
    await client.next();
    send("127.0.0.5", blocked.port);
    send("127.0.0.5", blocked.port);
    await expect(client.next(300)).rejects.toThrow("no datagram");
    const metrics = await relay.relay.metrics.registry.getSingleMetricAsString(
      "edgesocks_relay_acl_decisions_total",
    );
    // Two datagrams to the blocked destination, one decision: the cache works.
    expect(metrics).toContain('action="block",rule="user:anonymous#0"} 1');
    client.close();
    control.destroy();
  });
});
