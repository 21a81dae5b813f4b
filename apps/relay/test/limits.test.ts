import { createSocket } from "node:dgram";
import { connect, type Socket } from "node:net";
import { encodeUdpDatagram } from "@edgesocks/socks";
import { describe, expect, it } from "vitest";
import type { RelayMetrics } from "../src/metrics";
import { connectRequestV4, RawClient } from "../src/test-support/raw-client";
import { curlVia } from "../src/test-support/run";
import { startEchoTarget, startHttpTarget } from "../src/test-support/targets";
import { startTestRelay } from "../src/test-support/test-relay";
import { socks5Connect } from "../src/test-support/traffic";

const REFUSED_NOT_ALLOWED = [5, 2, 0, 1, 0, 0, 0, 0, 0, 0];

async function rejected(metrics: RelayMetrics, reason: string): Promise<number> {
  const { values } = await metrics.rejectedTotal.get();
  return values.find((v) => v.labels.reason === reason)?.value ?? 0;
}

describe("connection limits", () => {
  it("refuses past the per-user and per-client caps with 0x02, counts each reason, and admits again after a close", async () => {
    await using target = await startEchoTarget();
    await using relay = await startTestRelay(`
[auth]
socks_method = "userpass"
[[auth.users]]
username = "alice"
password = "alice"
max_connections = 1
[[auth.users]]
username = "bob"
password = "bob"
[qos]
enabled = true
[qos.connection_limits]
max_connections_per_client = 3
`);
    const alice = await socks5Connect(relay.port, "127.0.0.1", target.port, "alice");
    expect(alice.reply[1]).toBe(0);
    const alice2 = await socks5Connect(relay.port, "127.0.0.1", target.port, "alice");
    expect(alice2.reply).toEqual(REFUSED_NOT_ALLOWED);
    const bob1 = await socks5Connect(relay.port, "127.0.0.1", target.port, "bob");
    const bob2 = await socks5Connect(relay.port, "127.0.0.1", target.port, "bob");
    expect([bob1.reply[1], bob2.reply[1]]).toEqual([0, 0]);
    const bob3 = await socks5Connect(relay.port, "127.0.0.1", target.port, "bob");
    expect(bob3.reply).toEqual(REFUSED_NOT_ALLOWED);
    expect(await rejected(relay.relay.metrics, "connection_limit_user")).toBe(1);
    expect(await rejected(relay.relay.metrics, "connection_limit_client")).toBe(1);

    alice.client.destroy();
    await expect
      .poll(() => relay.records.some((r) => r.user === "alice" && r.status === "closed"))
      .toBe(true);
    const bob4 = await socks5Connect(relay.port, "127.0.0.1", target.port, "bob");
    expect(bob4.reply[1]).toBe(0);
    for (const c of [alice2, bob1, bob2, bob3, bob4]) c.client.destroy();
  });

  it("refuses past the global cap: 0x02 for SOCKS5, 0x5B for SOCKS4", async () => {
    await using target = await startEchoTarget();
    await using relay = await startTestRelay(
      `[qos]\nenabled = true\n[qos.connection_limits]\nmax_connections_global = 1\n`,
    );
    const first = await socks5Connect(relay.port, "127.0.0.1", target.port);
    expect(first.reply[1]).toBe(0);
    const second = await socks5Connect(relay.port, "127.0.0.1", target.port);
    expect(second.reply).toEqual(REFUSED_NOT_ALLOWED);
    using socks4 = await RawClient.open(relay.port);
    socks4.write([4, 1, target.port >> 8, target.port & 255, 127, 0, 0, 1, 0]);
    expect([...(await socks4.read(8))].slice(0, 2)).toEqual([0, 0x5b]);
    expect(await rejected(relay.relay.metrics, "connection_limit_global")).toBe(2);
    const records = await relay.waitForRecords(2);
    expect(records.map((r) => r.closeReason)).toEqual([
      "connection_limit_global",
      "connection_limit_global",
    ]);
    first.client.destroy();
    second.client.destroy();
  });
});

describe("slow-loris protection", () => {
  it("keeps serving a normal client while 300 idle sockets exceed the pending-handshake limit", async () => {
    await using target = await startHttpTarget("still serving");
    await using relay = await startTestRelay(`[server]\nmax_pending_handshakes = 100\n`);
    const idle: Socket[] = await Promise.all(
      Array.from(
        { length: 300 },
        (_, i) =>
          new Promise<Socket>((resolve, reject) => {
            const socket = connect({ host: "127.0.0.1", port: relay.port }, () => {
              // Half of them start a greeting and never finish it.
              if (i % 2 === 0) socket.write(Buffer.from([5]));
              resolve(socket);
            });
            socket.on("error", () => {});
            socket.once("error", reject);
          }),
      ),
    );
    try {
      await expect
        .poll(() => rejected(relay.relay.metrics, "handshake_evicted"))
        .toBeGreaterThanOrEqual(200);
      expect(
        (await relay.relay.metrics.handshakesPending.get()).values[0]?.value,
      ).toBeLessThanOrEqual(100);
      const result = await curlVia("--socks5", relay.proxy, `http://127.0.0.1:${target.port}/`);
      expect(result.stdout).toBe("still serving");
      await expect
        .poll(() => idle.filter((s) => s.destroyed || s.readableEnded).length)
        .toBeGreaterThanOrEqual(200);
    } finally {
      for (const socket of idle) socket.destroy();
    }
    // Nothing is left behind once the flood is gone.
    await expect
      .poll(async () => (await relay.relay.metrics.handshakesPending.get()).values[0]?.value)
      .toBe(0);
  });

  it("closes a handshake that trickles a byte at a time once its total time is up", async () => {
    await using relay = await startTestRelay(`[server]\nhandshake_timeout_ms = 600\n`);
    using client = await RawClient.open(relay.port);
    client.write([5, 255]);
    const trickle = setInterval(() => client.write([0]), 100);
    const started = performance.now();
    try {
      await client.closed(3000);
    } finally {
      clearInterval(trickle);
    }
    expect(performance.now() - started).toBeLessThan(1500);
    const [record] = await relay.waitForRecords(1);
    expect(record).toMatchObject({ status: "rejected", closeReason: "handshake_timeout" });
  });
});

describe("egress guard", () => {
  const allowAll = `[global]
default_policy = "allow"
[[users]]
username = "anonymous"
[[users.rules]]
action = "allow"
description = "everything"
destinations = ["*"]
ports = ["*"]
protocols = ["both"]
`;

  it("refuses metadata, link-local and the relay's own ports even with an ACL that allows everything", async () => {
    await using target = await startEchoTarget();
    await using relay = await startTestRelay(
      `[acl]\nenabled = true\nconfig_file = "acl.toml"\n[ops]\nbind = "127.0.0.1:0"\n`,
      allowAll,
    );
    const opsPort = relay.relay.opsAddress()!.port;
    const refused: [string, number][] = [
      ["169.254.169.254", 80],
      ["127.0.0.1", relay.port],
      ["localhost", relay.port],
      ["127.0.0.1", opsPort],
    ];
    for (const [host, port] of refused) {
      const { client, reply } = await socks5Connect(relay.port, host, port);
      expect({ host, port, reply }).toEqual({ host, port, reply: REFUSED_NOT_ALLOWED });
      client.destroy();
    }
    using v6 = await RawClient.open(relay.port);
    const fe80 = [0xfe, 0x80, ...new Array(13).fill(0), 1];
    v6.write([5, 1, 0, 5, 1, 0, 4, ...fe80, 0, 80]);
    await v6.read(2);
    expect([...(await v6.read(10))].slice(0, 2)).toEqual([5, 2]);
    using socks4 = await RawClient.open(relay.port);
    socks4.write([4, 1, 0, 80, 169, 254, 169, 254, 0]);
    expect([...(await socks4.read(8))].slice(0, 2)).toEqual([0, 0x5b]);
    using bind = await RawClient.open(relay.port);
    bind.write([5, 1, 0, ...connectRequestV4("169.254.169.254", 0, 2)]);
    await bind.read(2);
    expect([...(await bind.read(10))]).toEqual(REFUSED_NOT_ALLOWED);
    expect(await rejected(relay.relay.metrics, "egress_guard")).toBe(7);

    // What the guard does not cover still goes through.
    const allowed = await socks5Connect(relay.port, "127.0.0.1", target.port);
    expect(allowed.reply[1]).toBe(0);
    allowed.client.destroy();
  });

  it("refuses a BIND for a name that resolves only to guarded addresses as the guard's, like CONNECT", async () => {
    await using relay = await startTestRelay(
      `[acl]\nenabled = true\nconfig_file = "acl.toml"\n[dns.hosts]\n"metadata.test" = "169.254.169.254"\n`,
      allowAll,
    );
    for (const command of [1, 2]) {
      using client = await RawClient.open(relay.port);
      const name = Buffer.from("metadata.test");
      client.write([5, 1, 0, 5, command, 0, 3, name.length, ...name, 0, 80]);
      await client.read(2);
      expect([...(await client.read(10))]).toEqual(REFUSED_NOT_ALLOWED);
    }
    const records = await relay.waitForRecords(2);
    expect(records.map((r) => [r.command, r.closeReason])).toEqual([
      ["connect", "egress_guard"],
      ["bind", "egress_guard"],
    ]);
    expect(await rejected(relay.relay.metrics, "egress_guard")).toBe(2);
  });

  it("drops UDP datagrams to guarded destinations and counts them", async () => {
    await using relay = await startTestRelay();
    using control = await RawClient.open(relay.port);
    control.write([5, 1, 0, 5, 3, 0, 1, 0, 0, 0, 0, 0, 0]);
    await control.read(2);
    const reply = await control.read(10);
    const udp = createSocket("udp4");
    await new Promise<void>((resolve) => udp.bind(0, "127.0.0.1", resolve));
    try {
      udp.send(
        encodeUdpDatagram(
          { frag: 0, address: { type: "ipv4", host: "169.254.169.254" }, port: 53 },
          Buffer.from("q"),
        ),
        reply.readUInt16BE(8),
        "127.0.0.1",
      );
      await expect
        .poll(async () => {
          const { values } = await relay.relay.metrics.udpDatagrams.get();
          return values.find((v) => v.labels.reason === "egress_guard")?.value ?? 0;
        })
        .toBe(1);
    } finally {
      udp.close();
    }
  });

  it("lets the operator turn the guard off", async () => {
    await using relay = await startTestRelay(
      `[egress]\nguard_enabled = false\n[acl]\nenabled = true\nconfig_file = "acl.toml"\n`,
      allowAll,
    );
    const { client, reply } = await socks5Connect(relay.port, "127.0.0.1", relay.port);
    expect(reply[1]).toBe(0);
    client.destroy();
  });
});
