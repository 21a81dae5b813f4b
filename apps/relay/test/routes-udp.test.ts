import { createSocket, type Socket as UdpSocket } from "node:dgram";
import { decodeUdpHeader, encodeUdpDatagram } from "@edgesocks/socks";
import { describe, expect, it } from "vitest";
import { startDante, startMicrosocks } from "../src/test-support/parent-proxies";
import { RawClient } from "../src/test-support/raw-client";
import { startTestRelay, type TestRelay } from "../src/test-support/test-relay";

const config = `
[acl]
enabled = true
config_file = "acl.toml"
`;

/** An acl.toml whose one rule sends everything through route `r` of these chains. */
function routedAcl(chains: { port: number }[][]): string {
  const hop = (h: { port: number }) => `{ type = "socks5", host = "127.0.0.1", port = ${h.port} }`;
  return `
[global]
default_policy = "block"

[[routes]]
name = "r"
resolve = "remote"
${chains.map((hops) => `[[routes.chains]]\nhops = [${hops.map(hop).join(", ")}]`).join("\n")}

[[users]]
username = "anonymous"
[[users.rules]]
id = "via-r"
action = "allow"
destinations = ["*"]
ports = ["*"]
protocols = ["both"]
route = "r"
`;
}

/** Answers each datagram with its payload and the address it came from. */
async function startUdpEcho(host = "127.0.0.1") {
  const socket = createSocket("udp4");
  const seen: string[] = [];
  socket.on("message", (message, from) => {
    seen.push(from.address);
    socket.send(Buffer.from(`${message} from ${from.address}`), from.port, from.address);
  });
  await new Promise<void>((resolve) => socket.bind(0, host, resolve));
  return { port: socket.address().port, seen, [Symbol.dispose]: () => socket.close() };
}

async function udpClient(): Promise<UdpSocket & { next(timeoutMs?: number): Promise<Buffer> }> {
  const socket = createSocket("udp4");
  const queue: Buffer[] = [];
  const waiters: ((b: Buffer) => void)[] = [];
  socket.on("message", (m) => {
    const w = waiters.shift();
    if (w) w(m);
    else queue.push(m);
  });
  await new Promise<void>((resolve) => socket.bind(0, "127.0.0.1", resolve));
  return Object.assign(socket, {
    next: (timeoutMs = 3000) =>
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

async function associate(relay: TestRelay) {
  const control = await RawClient.open(relay.port);
  control.write([5, 1, 0, 5, 3, 0, 1, 0, 0, 0, 0, 0, 0]);
  await control.read(2);
  const reply = await control.read(10);
  expect(reply[1]).toBe(0);
  return { control, port: reply.readUInt16BE(8) };
}

async function dropped(relay: TestRelay, reason: string): Promise<number> {
  const { values } = await relay.relay.metrics.udpDatagrams.get();
  return (
    values.find((v) => v.labels.direction === "dropped" && v.labels.reason === reason)?.value ?? 0
  );
}

describe("UDP ASSOCIATE through upstream routes", () => {
  it("sends datagrams through Dante's UDP ASSOCIATE and gives replies the destination as source", async () => {
    using echo = await startUdpEcho();
    await using dante = await startDante();
    await using relay = await startTestRelay(config, routedAcl([[{ port: dante.port }]]));
    const { control, port } = await associate(relay);
    const client = await udpClient();
    try {
      const to = {
        frag: 0,
        address: { type: "ipv4" as const, host: "127.0.0.1" },
        port: echo.port,
      };
      for (const payload of ["one", "two"]) {
        client.send(encodeUdpDatagram(to, Buffer.from(payload)), port, "127.0.0.1");
        const reply = await client.next();
        const header = decodeUdpHeader(reply);
        expect(header.status).toBe("ok");
        if (header.status !== "ok") return;
        expect(header.value.address).toEqual({ type: "ipv4", host: "127.0.0.1" });
        expect(header.value.port).toBe(echo.port);
        // Dante sent it on from its external address, not the relay.
        expect(reply.subarray(header.length).toString()).toBe(`${payload} from 127.0.0.2`);
      }
      expect(echo.seen).toEqual(["127.0.0.2", "127.0.0.2"]);
      const { values } = await relay.relay.metrics.routeConnections.get();
      // One association with the parent for both datagrams.
      expect(values.map((v) => [v.labels, v.value])).toEqual([[{ route: "r", result: "ok" }, 1]]);
    } finally {
      client.close();
      control.destroy();
    }
    const [record] = await relay.waitForRecords(1);
    expect(record).toMatchObject({ command: "udp", route: "r#0", packetsUp: 2, packetsDown: 2 });
  });

  it("sends a name to the parent unresolved (resolve = remote)", async () => {
    using echo = await startUdpEcho();
    await using dante = await startDante();
    await using relay = await startTestRelay(config, routedAcl([[{ port: dante.port }]]));
    const { control, port } = await associate(relay);
    const client = await udpClient();
    try {
      const to = {
        frag: 0,
        address: { type: "domain" as const, host: "localhost" },
        port: echo.port,
      };
      client.send(encodeUdpDatagram(to, Buffer.from("by name")), port, "127.0.0.1");
      const reply = await client.next();
      const header = decodeUdpHeader(reply);
      if (header.status !== "ok") throw new Error("bad header");
      expect(header.value.port).toBe(echo.port);
      expect(reply.subarray(header.length).toString()).toBe("by name from 127.0.0.2");
      // The relay never asked its resolver: Dante resolved the name.
      const { values } = await relay.relay.metrics.dnsDuration.get();
      expect(values.find((v) => v.metricName?.endsWith("_count"))?.value ?? 0).toBe(0);
    } finally {
      client.close();
      control.destroy();
    }
    const [record] = await relay.waitForRecords(1);
    expect(record).toMatchObject({ destinationHost: "localhost", destinationAddress: null });
  });

  it("opens a new association with the parent after the parent closed the last one", async () => {
    using echo = await startUdpEcho();
    await using dante = await startDante({ udpIdleSecs: 1 });
    await using relay = await startTestRelay(config, routedAcl([[{ port: dante.port }]]));
    const { control, port } = await associate(relay);
    const client = await udpClient();
    const opened = async () =>
      (await relay.relay.metrics.routeConnections.get()).values.find(
        (v) => v.labels.result === "ok",
      )?.value ?? 0;
    try {
      const to = {
        frag: 0,
        address: { type: "ipv4" as const, host: "127.0.0.1" },
        port: echo.port,
      };
      client.send(encodeUdpDatagram(to, Buffer.from("before")), port, "127.0.0.1");
      await client.next();
      expect(await opened()).toBe(1);
      // Dante ends the idle association; the relay's association with the client lives on.
      await new Promise((r) => setTimeout(r, 2500));
      client.send(encodeUdpDatagram(to, Buffer.from("after")), port, "127.0.0.1");
      const reply = await client.next();
      const header = decodeUdpHeader(reply);
      if (header.status !== "ok") throw new Error("bad header");
      expect(reply.subarray(header.length).toString()).toBe("after from 127.0.0.2");
      expect(await opened()).toBe(2);
    } finally {
      client.close();
      control.destroy();
    }
  });

  it("checks the parent's address with the egress guard: refused, the datagram is dropped", async () => {
    using echo = await startUdpEcho("127.0.0.4");
    await using dante = await startDante();
    await using relay = await startTestRelay(
      `${config}\n[egress]\nblocked_networks = ["127.0.0.1/32"]\n`,
      routedAcl([[{ port: dante.port }]]),
    );
    const { control, port } = await associate(relay);
    const client = await udpClient();
    try {
      const to = {
        frag: 0,
        address: { type: "ipv4" as const, host: "127.0.0.4" },
        port: echo.port,
      };
      client.send(encodeUdpDatagram(to, Buffer.from("guarded")), port, "127.0.0.1");
      await expect(client.next(500)).rejects.toThrow("no datagram");
      expect(await dropped(relay, "route_failed")).toBe(1);
      const { values } = await relay.relay.metrics.routeHopFailures.get();
      expect(values.map((v) => [v.labels, v.value])).toEqual([
        [{ route: "r", hop: `socks5://127.0.0.1:${dante.port}` }, 1],
      ]);
      expect(echo.seen).toEqual([]);
    } finally {
      client.close();
      control.destroy();
    }
  });

  it("drops a routed datagram whose route has two hops, counting route_udp_unsupported", async () => {
    using echo = await startUdpEcho();
    await using dante = await startDante();
    await using micro = await startMicrosocks();
    await using relay = await startTestRelay(
      config,
      routedAcl([[{ port: micro.port }, { port: dante.port }]]),
    );
    const { control, port } = await associate(relay);
    const client = await udpClient();
    try {
      const to = {
        frag: 0,
        address: { type: "ipv4" as const, host: "127.0.0.1" },
        port: echo.port,
      };
      client.send(encodeUdpDatagram(to, Buffer.from("nope")), port, "127.0.0.1");
      await expect(client.next(500)).rejects.toThrow("no datagram");
      expect(await dropped(relay, "route_udp_unsupported")).toBe(1);
      expect(echo.seen).toEqual([]);
    } finally {
      client.close();
      control.destroy();
    }
    const [record] = await relay.waitForRecords(1);
    expect(record).toMatchObject({ command: "udp", route: "r", packetsUp: 0 });
  });
});
