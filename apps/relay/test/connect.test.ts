import { describe, expect, it } from "vitest";
import { connectRequestDomain, connectRequestV4, RawClient } from "../src/test-support/raw-client";
import { curlVia, run, SYSTEM_PYTHON } from "../src/test-support/run";
import { closedPort, startEchoTarget, startHttpTarget } from "../src/test-support/targets";
import { startTestRelay } from "../src/test-support/test-relay";

describe("CONNECT with real clients", () => {
  it.each([
    ["--socks5", "127.0.0.1"],
    ["--socks5-hostname", "localhost"],
    ["--socks4", "127.0.0.1"],
    ["--socks4a", "localhost"],
  ] as const)("curl %s reaches the target through the relay", async (flag, host) => {
    await using target = await startHttpTarget("through the relay");
    await using relay = await startTestRelay();
    const result = await curlVia(flag, relay.proxy, `http://${host}:${target.port}/x`);
    expect(result.stderr).toBe("");
    expect(result.stdout).toBe("through the relay");
    const [record] = await relay.waitForRecords(1);
    expect(record).toMatchObject({
      command: "connect",
      status: "closed",
      destinationPort: target.port,
      destinationAddress: "127.0.0.1",
      decision: "allow",
    });
    expect(record!.bytesDown).toBeGreaterThan("through the relay".length);
    expect(record!.bytesUp).toBeGreaterThan(0);
  });

  it("python3-socks (PySocks) connects through the relay", async () => {
    await using target = await startHttpTarget("pysocks ok");
    await using relay = await startTestRelay();
    const script = `
import socks, sys
s = socks.socksocket()
s.set_proxy(socks.SOCKS5, "127.0.0.1", ${relay.port})
s.settimeout(10)
s.connect(("127.0.0.1", ${target.port}))
s.sendall(b"GET / HTTP/1.0\\r\\n\\r\\n")
data = b""
while True:
    chunk = s.recv(4096)
    if not chunk: break
    data += chunk
sys.stdout.write(data.decode().split("\\r\\n\\r\\n", 1)[1])
`;
    const result = await run(SYSTEM_PYTHON, ["-c", script]);
    expect(result.stderr).toBe("");
    expect(result.stdout).toBe("pysocks ok");
  });

  it("accepts a greeting split into single bytes", async () => {
    await using target = await startEchoTarget();
    await using relay = await startTestRelay();
    using client = await RawClient.open(relay.port);
    for (const byte of [5, 1, 0]) {
      client.write([byte]);
      await new Promise((r) => setTimeout(r, 5));
    }
    expect([...(await client.read(2))]).toEqual([5, 0]);
    for (const byte of connectRequestV4("127.0.0.1", target.port)) {
      client.write([byte]);
      await new Promise((r) => setTimeout(r, 2));
    }
    const reply = await client.read(10);
    expect(reply[1]).toBe(0);
    client.write("ping");
    expect((await client.read(4)).toString()).toBe("ping");
  });

  it("accepts greeting, request and first data pipelined in one write", async () => {
    await using target = await startEchoTarget();
    await using relay = await startTestRelay();
    using client = await RawClient.open(relay.port);
    client.write([5, 1, 0, ...connectRequestV4("127.0.0.1", target.port), ...Buffer.from("early")]);
    expect([...(await client.read(2))]).toEqual([5, 0]);
    const reply = await client.read(10);
    expect(reply[1]).toBe(0);
    expect((await client.read(5)).toString()).toBe("early");
  });

  it("puts the outgoing socket's real local address in BND.ADDR/BND.PORT", async () => {
    let upstreamPort = 0;
    await using target = await startEchoTarget("127.0.0.1", (socket) => {
      upstreamPort = socket.remotePort ?? 0;
      socket.pipe(socket);
    });
    await using relay = await startTestRelay();
    using client = await RawClient.open(relay.port);
    client.write([5, 1, 0, ...connectRequestV4("127.0.0.1", target.port)]);
    await client.read(2);
    const reply = await client.read(10);
    expect([...reply.subarray(0, 8)]).toEqual([5, 0, 0, 1, 127, 0, 0, 1]);
    expect(reply.readUInt16BE(8)).toBe(upstreamPort);
  });

  it("relays half-close: the client's FIN reaches the target and the rest of the answer still arrives", async () => {
    await using target = await startEchoTarget("127.0.0.1", (socket) => {
      const chunks: Buffer[] = [];
      socket.on("data", (c: Buffer) => chunks.push(c));
      socket.on("end", () => {
        // Only answers after the client's FIN, like a server reading a request to EOF.
        setTimeout(() => socket.end(`got:${Buffer.concat(chunks).toString()}`), 50);
      });
    });
    await using relay = await startTestRelay();
    using client = await RawClient.open(relay.port);
    client.write([5, 1, 0, ...connectRequestV4("127.0.0.1", target.port)]);
    await client.read(12);
    client.write("request body");
    client.end();
    expect((await client.readToEnd()).toString()).toBe("got:request body");
    const [record] = await relay.waitForRecords(1);
    expect(record!.closeReason).toBe("client_closed");
  });

  it("answers connection refused with 0x05 in a full 10-byte reply", async () => {
    const port = await closedPort();
    await using relay = await startTestRelay();
    using client = await RawClient.open(relay.port);
    client.write([5, 1, 0, ...connectRequestV4("127.0.0.1", port)]);
    await client.read(2);
    expect([...(await client.read(10))]).toEqual([5, 5, 0, 1, 0, 0, 0, 0, 0, 0]);
    await client.closed();
    const [record] = await relay.waitForRecords(1);
    expect(record).toMatchObject({ status: "failed", closeReason: "connect_failed:ECONNREFUSED" });
  });

  it("answers an unresolvable name with host unreachable 0x04", async () => {
    await using relay = await startTestRelay();
    using client = await RawClient.open(relay.port);
    client.write([5, 1, 0, ...connectRequestDomain("no-such-host.invalid", 80)]);
    await client.read(2);
    expect((await client.read(10))[1]).toBe(4);
  });

  it("answers SOCKS4 failures with 0x5B", async () => {
    const port = await closedPort();
    await using relay = await startTestRelay();
    using client = await RawClient.open(relay.port);
    client.write([4, 1, port >> 8, port & 255, 127, 0, 0, 1, 0]);
    expect([...(await client.read(8))].slice(0, 2)).toEqual([0, 0x5b]);
  });

  it("connects to IPv6 destinations", async () => {
    await using target = await startHttpTarget("over v6", "::1");
    await using relay = await startTestRelay();
    const result = await curlVia("--socks5", relay.proxy, `http://[::1]:${target.port}/`);
    expect(result.stdout).toBe("over v6");
  });
});

describe("CONNECT edge cases", () => {
  it("relays a request pipelined with data and an immediate FIN (printf | nc style)", async () => {
    await using target = await startEchoTarget("127.0.0.1", (socket) => {
      const chunks: Buffer[] = [];
      socket.on("data", (c: Buffer) => chunks.push(c));
      socket.on("end", () => socket.end(`echo:${Buffer.concat(chunks).toString()}`));
    });
    await using relay = await startTestRelay();
    using client = await RawClient.open(relay.port);
    client.write([
      5,
      1,
      0,
      ...connectRequestV4("127.0.0.1", target.port),
      ...Buffer.from("all at once"),
    ]);
    client.end();
    const all = await client.readToEnd();
    expect(all.subarray(12).toString()).toBe("echo:all at once");
  });
});
