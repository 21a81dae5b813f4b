import type { Socket } from "node:net";
import { describe, expect, it } from "vitest";
import { parseConfigText } from "../src/config/load";
import { startTestRelay } from "../src/test-support/test-relay";
import {
  download,
  rate,
  socksConnect,
  startSinkTarget,
  startSourceTarget,
  upload,
} from "../src/test-support/traffic";

const MB = 1_000_000;

/** Users with plain passwords (their password is their name), each with extra TOML lines. */
function usersToml(users: Record<string, string>): string {
  return Object.entries(users)
    .map(
      ([name, extra]) => `[[auth.users]]\nusername = "${name}"\npassword = "${name}"\n${extra}\n`,
    )
    .join("");
}

function config(qos: string, users: Record<string, string>): string {
  return `[auth]\nsocks_method = "userpass"\n${usersToml(users)}\n${qos}\n`;
}

/** Counts what arrives on `socket`, so a rate can be read over any window. */
function meter(socket: Socket) {
  let bytes = 0;
  socket.on("data", (chunk: Buffer) => {
    bytes += chunk.length;
  });
  socket.resume();
  return {
    async over(ms: number): Promise<number> {
      const before = bytes;
      await new Promise((r) => setTimeout(r, ms));
      return rate(bytes - before, ms);
    },
  };
}

describe("bandwidth shaping over real loopback transfers", () => {
  it("holds a user capped at 1 MB/s to 0.8-1.2 MB/s in both directions at once", async () => {
    await using source = await startSourceTarget();
    await using sink = await startSinkTarget();
    await using relay = await startTestRelay(
      config(`[qos]\nenabled = true\n`, { alice: "bandwidth_bytes_per_sec = 1000000" }),
    );
    const as = { proxyPort: relay.port, user: "alice", password: "alice" };
    const down = await socksConnect({ ...as, host: source.host, port: source.port });
    const up = await socksConnect({ ...as, host: sink.host, port: sink.port });
    const started = performance.now();
    const [downloaded] = await Promise.all([download(down, 3000), upload(up, 3000)]);
    const elapsedMs = performance.now() - started;
    const uploaded = sink.received();
    expect(rate(downloaded, elapsedMs) / MB).toBeGreaterThan(0.8);
    expect(rate(downloaded, elapsedMs) / MB).toBeLessThan(1.2);
    expect(rate(uploaded, elapsedMs) / MB).toBeGreaterThan(0.8);
    expect(rate(uploaded, elapsedMs) / MB).toBeLessThan(1.2);
    const waits = await relay.relay.metrics.qosWaits.get();
    expect(waits.values.map((v) => v.labels.direction).sort()).toEqual(["down", "up"]);
  });

  it("gives two users sharing a 2 MB/s global rate about half each", async () => {
    await using source = await startSourceTarget();
    await using relay = await startTestRelay(
      config(`[qos]\nenabled = true\n[qos.htb]\nglobal_bandwidth_bytes_per_sec = 2000000\n`, {
        alice: "",
        bob: "",
      }),
    );
    const open = (user: string) =>
      socksConnect({ proxyPort: relay.port, user, password: user, ...source });
    const [alice, bob] = await Promise.all([open("alice"), open("bob")]);
    const [a, b] = await Promise.all([download(alice, 2000), download(bob, 2000)]);
    expect(rate(a, 2000) / MB).toBeGreaterThan(0.8);
    expect(rate(a, 2000) / MB).toBeLessThan(1.2);
    expect(rate(b, 2000) / MB).toBeGreaterThan(0.8);
    expect(rate(b, 2000) / MB).toBeLessThan(1.2);
  });

  it("keeps a user's guarantee while a greedy user with four connections saturates the rest", async () => {
    await using source = await startSourceTarget();
    await using relay = await startTestRelay(
      config(`[qos]\nenabled = true\n[qos.htb]\nglobal_bandwidth_bytes_per_sec = 2000000\n`, {
        alice: "guaranteed_bandwidth_bytes_per_sec = 1500000\nbandwidth_bytes_per_sec = 1500000",
        bob: "",
      }),
    );
    const open = (user: string) =>
      socksConnect({ proxyPort: relay.port, user, password: user, ...source });
    const alice = await open("alice");
    const greedy = await Promise.all([1, 2, 3, 4].map(() => open("bob")));
    const [a, ...b] = await Promise.all([alice, ...greedy].map((s) => download(s, 2000)));
    const bob = b.reduce((sum, bytes) => sum + bytes, 0);
    // An even split would give alice 1 MB/s; her guarantee gives her 1.5.
    expect(rate(a!, 2000) / MB).toBeGreaterThan(1.25);
    expect(rate(a!, 2000) / MB).toBeLessThan(1.75);
    expect(rate(bob, 2000) / MB).toBeGreaterThan(0.3);
    expect(rate(a! + bob, 2000) / MB).toBeLessThan(2.3);
  });

  it("applies a user's own limit while [qos] enabled = false, also to a session already relaying", async () => {
    await using source = await startSourceTarget();
    const off = `[qos]\nenabled = false\n`;
    await using relay = await startTestRelay(config(off, { alice: "" }));
    const socket = await socksConnect({
      proxyPort: relay.port,
      user: "alice",
      password: "alice",
      ...source,
    });
    const downloadRate = meter(socket);
    expect(await downloadRate.over(300)).toBeGreaterThan(5 * MB);

    // The switch stays off: it governs the fleet defaults, not alice's own limit.
    const limited = config(off, { alice: "bandwidth_bytes_per_sec = 500000" });
    expect(relay.relay.reload(parseConfigText(limited).config)).toBe(true);
    await new Promise((r) => setTimeout(r, 200));
    const capped = await downloadRate.over(1500);
    expect(capped / MB).toBeGreaterThan(0.4);
    expect(capped / MB).toBeLessThan(0.6);

    expect(relay.relay.reload(parseConfigText(config(off, { alice: "" })).config)).toBe(true);
    expect(await downloadRate.over(300)).toBeGreaterThan(5 * MB);
    socket.destroy();
  });

  it("shapes nobody by the fleet defaults while [qos] enabled = false", async () => {
    await using source = await startSourceTarget();
    const defaults = `[qos.htb]\nmax_bandwidth_bytes_per_sec = 500000\nglobal_bandwidth_bytes_per_sec = 500000\n`;
    await using relay = await startTestRelay(
      config(`[qos]\nenabled = false\n${defaults}`, { alice: "" }),
    );
    const socket = await socksConnect({
      proxyPort: relay.port,
      user: "alice",
      password: "alice",
      ...source,
    });
    expect(await meter(socket).over(300)).toBeGreaterThan(5 * MB);
    socket.destroy();
  });
});
