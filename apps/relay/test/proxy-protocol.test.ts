import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { connect, createServer, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Duplex } from "node:stream";
import { type ConnectionOptions, type TLSSocket, connect as tlsConnect } from "node:tls";
import { encodeProxyHeaderV2 } from "@edgesocks/socks";
import { describe, expect, it } from "vitest";
import type { RelayMetrics } from "../src/metrics";
import { createPki } from "../src/test-support/pki";
import { connectRequestV4, RawClient } from "../src/test-support/raw-client";
import { curlVia } from "../src/test-support/run";
import { startHttpTarget } from "../src/test-support/targets";
import { startTestRelay } from "../src/test-support/test-relay";

// Debian installs haproxy in /usr/sbin, which a non-login PATH may lack.
const HAPROXY = existsSync("/usr/sbin/haproxy") ? "/usr/sbin/haproxy" : "haproxy";

// The relay trusts 127.0.0.1 (where HAProxy connects from) and nothing else;
// clients use other loopback addresses so the relay can tell them apart.
const config = `
[server]
proxy_protocol = "any"
proxy_protocol_trusted = ["127.0.0.1/32"]
handshake_timeout_ms = 2000
`;

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function waitForPort(port: number, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s: Socket = connect(port, "127.0.0.1", () => {
        s.destroy();
        resolve(true);
      });
      s.on("error", () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`haproxy did not listen on ${port}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A real HAProxy with a send-proxy-v2 and a send-proxy (v1) TCP frontend in front of the relay. */
async function startHaproxy(relayPort: number) {
  const dir = mkdtempSync(join(tmpdir(), "edgesocks-haproxy-"));
  const v2 = await freePort();
  const v1 = await freePort();
  const cfg = join(dir, "haproxy.cfg");
  writeFileSync(
    cfg,
    `global
  maxconn 100
defaults
  mode tcp
  timeout connect 5s
  timeout client 30s
  timeout server 30s
frontend v2
  bind 127.0.0.1:${v2}
  default_backend relay_v2
backend relay_v2
  server relay 127.0.0.1:${relayPort} send-proxy-v2
frontend v1
  bind 127.0.0.1:${v1}
  default_backend relay_v1
backend relay_v1
  server relay 127.0.0.1:${relayPort} send-proxy
`,
  );
  const child: ChildProcess = spawn(HAPROXY, ["-db", "-f", cfg], { stdio: "ignore" });
  await Promise.all([waitForPort(v2), waitForPort(v1)]);
  return {
    v2,
    v1,
    [Symbol.asyncDispose]: async () => {
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGTERM");
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function until(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function rejected(metrics: RelayMetrics, reason: string): Promise<number> {
  const { values } = await metrics.rejectedTotal.get();
  return values.find((v) => v.labels.reason === reason)?.value ?? 0;
}

describe("PROXY protocol from a load balancer", () => {
  it("records curl's own address behind HAProxy's send-proxy-v2 and send-proxy", async () => {
    await using target = await startHttpTarget("ok");
    await using relay = await startTestRelay(config);
    await using haproxy = await startHaproxy(relay.port);
    const succeeded = () => relay.records.filter((r) => r.command === "connect");
    for (const [i, port] of [haproxy.v2, haproxy.v1].entries()) {
      const result = await curlVia(
        "--socks5",
        `127.0.0.1:${port}`,
        `http://127.0.0.1:${target.port}/`,
        ["--interface", "127.0.0.5"],
      );
      expect(result.stderr).toBe("");
      expect(result.stdout).toBe("ok");
      // The readiness probes left records of their own (from 127.0.0.1): look at curl's.
      await until(() => succeeded().length === i + 1);
      expect(succeeded()[i]).toMatchObject({
        clientAddress: "127.0.0.5",
        status: "closed",
        decision: "allow",
      });
    }
  });

  it("refuses a forged header from an untrusted source, counts it, and serves its plain SOCKS", async () => {
    await using target = await startHttpTarget("ok");
    await using relay = await startTestRelay(config);
    const forger = await RawClient.open(relay.port, "127.0.0.1", "127.0.0.9");
    forger.write("PROXY TCP4 10.9.8.7 127.0.0.1 4000 1080\r\n");
    await forger.closed();
    const [record] = await relay.waitForRecords(1);
    expect(record).toMatchObject({
      clientAddress: "127.0.0.9",
      status: "rejected",
      closeReason: "proxy_protocol_untrusted",
    });
    expect(await rejected(relay.relay.metrics, "proxy_protocol_untrusted")).toBe(1);
    // The same address without a header is an ordinary SOCKS client, recorded as itself.
    const plain = await curlVia("--socks5", relay.proxy, `http://127.0.0.1:${target.port}/`, [
      "--interface",
      "127.0.0.9",
    ]);
    expect(plain.stdout).toBe("ok");
    expect((await relay.waitForRecords(2))[1]).toMatchObject({ clientAddress: "127.0.0.9" });
  });

  it("keeps the real peer for a LOCAL header, and refuses a trusted peer without one or too slow", async () => {
    await using relay = await startTestRelay(config);
    const local = await RawClient.open(relay.port);
    local.write(
      Buffer.concat([
        encodeProxyHeaderV2({ version: 2, command: "local" }),
        Buffer.from([5, 1, 0]),
      ]),
    );
    expect([...(await local.read(2))]).toEqual([5, 0]);
    local.socket.destroy();
    const [health] = await relay.waitForRecords(1);
    expect(health).toMatchObject({ clientAddress: "127.0.0.1" });

    const bare = await RawClient.open(relay.port);
    bare.write([5, 1, 0]);
    await bare.closed();
    expect(await rejected(relay.relay.metrics, "proxy_protocol_invalid")).toBe(1);

    const slow = await RawClient.open(relay.port);
    slow.write("PROXY TCP4 ");
    await slow.closed(5000);
    expect(await rejected(relay.relay.metrics, "proxy_protocol_timeout")).toBe(1);
  });
});

describe("PROXY protocol on a TLS listener (the header precedes the ClientHello)", () => {
  const dir = mkdtempSync(join(tmpdir(), "edgesocks-proxy-tls-"));
  const pki = createPki(join(dir, "ca"));
  const server = pki.issue("server");
  const tlsConfig = `${config}
[server.tls]
enabled = true
certificate_path = "${server.cert}"
private_key_path = "${server.key}"
`;
  const ca = readFileSync(pki.caCert);

  /** SOCKS5 CONNECT over an open TLS connection; resolves with the HTTP body. */
  async function socksOverTls(socket: TLSSocket, targetPort: number): Promise<string> {
    const received: Buffer[] = [];
    socket.on("data", (c: Buffer) => received.push(c));
    socket.write(Buffer.from([5, 1, 0, ...connectRequestV4("127.0.0.1", targetPort)]));
    socket.write("GET / HTTP/1.0\r\n\r\n");
    await new Promise((resolve) => {
      socket.on("end", resolve);
      socket.on("close", resolve);
    });
    const all = Buffer.concat(received);
    expect([...all.subarray(0, 3)]).toEqual([5, 0, 5]);
    return all.subarray(12).toString().split("\r\n\r\n")[1] ?? "";
  }

  function openTls(port: number, localAddress: string, socket?: Duplex): Promise<TLSSocket> {
    return new Promise((resolve, reject) => {
      // localAddress reaches net.connect, though ConnectionOptions does not declare it.
      const options: ConnectionOptions & { localAddress?: string } = socket
        ? { socket, servername: "localhost", ca }
        : { host: "127.0.0.1", port, localAddress, servername: "localhost", ca };
      const tls = tlsConnect(options, () => resolve(tls));
      tls.once("error", reject);
    });
  }

  /** A TCP connection whose first write carries `header` and the ClientHello together. */
  function headerThenHello(port: number, header: Buffer, localAddress = "127.0.0.1"): Duplex {
    const raw = connect({ port, host: "127.0.0.1", localAddress });
    let first = true;
    const duplex = new Duplex({
      write(chunk: Buffer, _encoding, done) {
        raw.write(first ? Buffer.concat([header, chunk]) : chunk, done);
        first = false;
      },
      read() {},
      final(done) {
        raw.end();
        done();
      },
    });
    raw.on("data", (chunk) => duplex.push(chunk));
    raw.on("end", () => duplex.push(null));
    raw.on("error", (error) => duplex.destroy(error));
    return duplex;
  }

  it("records the client's own address behind HAProxy (v2 and v1) with TLS through to the relay", async () => {
    await using target = await startHttpTarget("over tls");
    await using relay = await startTestRelay(tlsConfig);
    await using haproxy = await startHaproxy(relay.port);
    for (const port of [haproxy.v2, haproxy.v1]) {
      const tls = await openTls(port, "127.0.0.6");
      expect(await socksOverTls(tls, target.port)).toBe("over tls");
    }
    await until(() => relay.records.filter((r) => r.command === "connect").length === 2);
    for (const record of relay.records.filter((r) => r.command === "connect")) {
      expect(record).toMatchObject({ clientAddress: "127.0.0.6", transport: "tls" });
    }
  });

  it("reads a header that arrives in one segment with the ClientHello, and serves an untrusted TLS client as itself", async () => {
    await using target = await startHttpTarget("over tls");
    await using relay = await startTestRelay(tlsConfig);
    const header = encodeProxyHeaderV2({
      version: 2,
      command: "proxy",
      family: 4,
      source: "10.20.30.40",
      sourcePort: 5555,
      destination: "127.0.0.1",
      destinationPort: relay.port,
    });
    const coalesced = await openTls(relay.port, "", headerThenHello(relay.port, header));
    expect(await socksOverTls(coalesced, target.port)).toBe("over tls");
    const direct = await openTls(relay.port, "127.0.0.9");
    expect(await socksOverTls(direct, target.port)).toBe("over tls");
    const records = await relay.waitForRecords(2);
    expect(records.map((r) => [r.clientAddress, r.clientPort === 5555])).toEqual(
      expect.arrayContaining([
        ["10.20.30.40", true],
        ["127.0.0.9", false],
      ]),
    );
    // A forged header from an untrusted source is refused before TLS.
    await expect(
      openTls(relay.port, "", headerThenHello(relay.port, header, "127.0.0.9")),
    ).rejects.toThrow();
    expect((await relay.waitForRecords(3))[2]).toMatchObject({
      clientAddress: "127.0.0.9",
      status: "rejected",
      closeReason: "proxy_protocol_untrusted",
      transport: "tls",
    });
  });
});
