import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { type AddressInfo, createServer, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  eventually,
  type RelayProcess,
  spooledRecords,
  startRelayProcess,
} from "../src/test-support/relay-process";
import { startTestRelay } from "../src/test-support/test-relay";
import { socks5Connect, startSourceTarget } from "../src/test-support/traffic";

/** The largest read a session relays at once (net/in-place-reads: OWN_BYTES). */
const MAX_CHUNK_BYTES = 256 * 1024;
const REFUSED_NOT_ALLOWED = [5, 2, 0, 1, 0, 0, 0, 0, 0, 0];

function metric(text: string, name: string): number {
  const line = text.split("\n").find((l) => l.startsWith(`${name} `));
  return line ? Number(line.slice(line.lastIndexOf(" ") + 1)) : 0;
}

/** A destination that sends as fast as it can once the client says "go" (any byte). */
async function startGatedSource() {
  const sockets: Socket[] = [];
  const block = Buffer.alloc(64 * 1024, 0x62);
  const server = createServer((socket) => {
    sockets.push(socket);
    socket.on("error", () => {});
    socket.once("data", () => {
      const pump = () => {
        while (!socket.destroyed && socket.write(block));
      };
      socket.on("drain", pump);
      pump();
    });
  });
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
  return {
    port: (server.address() as AddressInfo).port,
    [Symbol.asyncDispose]: () =>
      new Promise<void>((done) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => done());
      }),
  };
}

/** Says "go" and reads everything until the relay closes the connection; resolves with the bytes received. */
function drain(session: Awaited<ReturnType<typeof socks5Connect>>): Promise<number> {
  const socket = session.client.socket;
  // Counted here, not buffered by the raw client.
  socket.removeAllListeners("data");
  socket.write("g");
  let bytes = 0;
  socket.on("data", (chunk: Buffer) => {
    bytes += chunk.length;
  });
  socket.resume();
  // The client is half-open capable: the relay's FIN (or RST) ends it.
  return new Promise((done) => {
    socket.once("end", () => done(bytes));
    socket.once("close", () => done(bytes));
  });
}

async function startProcess(toml: string) {
  const dir = mkdtempSync(join(tmpdir(), "edgesocks-quota-"));
  writeFileSync(join(dir, "relay.toml"), toml);
  const relay: RelayProcess = await startRelayProcess({
    configPath: join(dir, "relay.toml"),
    stateDir: join(dir, "state"),
  });
  return {
    relay,
    dir,
    [Symbol.asyncDispose]: async () => {
      await relay[Symbol.asyncDispose]();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

const QUOTA_BYTES = 8_000_000;

describe("traffic quotas", () => {
  it("a group quota runs out across concurrent sessions on two threads: overshoot ≤ one chunk per session, then 0x02", async () => {
    await using source = await startGatedSource();
    await using started = await startProcess(`
[server]
workers = 2
[auth]
socks_method = "userpass"
[[auth.users]]
username = "alice"
password = "alice"
groups = ["team"]
[[auth.users]]
username = "bob"
password = "bob"
groups = ["team"]
[[auth.groups]]
name = "team"
quota = { bytes = ${QUOTA_BYTES}, period = "day", direction = "down" }
`);
    const { relay } = started;
    // Open paused sessions of both members until both threads serve some.
    const sessions: Awaited<ReturnType<typeof socks5Connect>>[] = [];
    let shards = new Set<number>();
    while (sessions.length < 6 || (shards.size < 2 && sessions.length < 32)) {
      const user = sessions.length % 2 === 0 ? "alice" : "bob";
      const session = await socks5Connect(relay.port, "127.0.0.1", source.port, user);
      expect(session.reply[1]).toBe(0);
      session.client.socket.pause();
      sessions.push(session);
      const active = JSON.parse((await relay.ops("/sessions/active")).body) as { shard: number }[];
      shards = new Set(active.map((s) => s.shard));
    }
    expect(shards.size).toBe(2);

    const received = await Promise.all(sessions.map(drain));
    const delivered = received.reduce((a, b) => a + b, 0);
    // Measured: what crossed the quota, against the documented bound.
    const overshoot = delivered - QUOTA_BYTES;
    console.log(
      `quota ${QUOTA_BYTES} B, ${sessions.length} sessions on 2 threads: delivered ${delivered} B, overshoot ${overshoot} B (bound ${sessions.length * MAX_CHUNK_BYTES} B)`,
    );
    expect(delivered).toBeLessThanOrEqual(QUOTA_BYTES + sessions.length * MAX_CHUNK_BYTES);

    // Every session ended because of the quota, and together they did spend it.
    const state = join(started.dir, "state", "spool");
    const records = await eventually("the sessions' records", () => {
      const connects = spooledRecords(state).filter((r) => r.command === "connect");
      return connects.length >= sessions.length ? connects : undefined;
    });
    expect(records.map((r) => r.closeReason)).toEqual(Array(sessions.length).fill("quota"));
    expect(records.reduce((a, r) => a + r.bytesDown, 0)).toBeGreaterThanOrEqual(QUOTA_BYTES);

    // Spent for every member, whichever thread takes the next request.
    for (const user of ["alice", "bob", "alice", "bob", "alice", "bob"]) {
      const refused = await socks5Connect(relay.port, "127.0.0.1", source.port, user);
      expect(refused.reply).toEqual(REFUSED_NOT_ALLOWED);
      refused.client.socket.destroy();
    }
    const metrics = (await relay.ops("/metrics")).body;
    expect(
      metric(metrics, 'edgesocks_relay_quota_exhausted_total{action="closed",scope="group"}'),
    ).toBe(sessions.length);
    expect(
      metric(metrics, 'edgesocks_relay_quota_exhausted_total{action="refused",scope="group"}'),
    ).toBe(6);
    expect(metric(metrics, 'edgesocks_relay_rejected_total{reason="quota"}')).toBe(6);
    const refusedRecords = await eventually("the refusals' records", () => {
      const quota = spooledRecords(state).filter((r) => r.status === "rejected");
      return quota.length >= 6 ? quota : undefined;
    });
    expect(new Set(refusedRecords.map((r) => r.closeReason))).toEqual(new Set(["quota"]));
  });

  it("throttles instead of closing with on_exhaust = throttle, and refuses new requests", async () => {
    const rate = 200_000;
    const quota = 2_000_000;
    await using source = await startSourceTarget();
    await using relay = await startTestRelay(`
[auth]
socks_method = "userpass"
[[auth.users]]
username = "carol"
password = "carol"
quota = { bytes = ${quota}, period = "week", on_exhaust = "throttle", throttle_bytes_per_sec = ${rate} }
`);
    const session = await socks5Connect(relay.port, "127.0.0.1", source.port, "carol");
    expect(session.reply[1]).toBe(0);
    let bytes = 0;
    const socket = session.client.socket;
    socket.on("data", (chunk: Buffer) => {
      bytes += chunk.length;
    });
    await eventually("the quota spent", () => (bytes >= quota ? true : undefined));
    const atQuota = bytes;
    await new Promise((r) => setTimeout(r, 1500));
    // Still open, still moving, but at the throttle's pace: at most its burst plus 1.5 s of rate
    // (and one chunk in flight), far below the unthrottled loopback speed.
    expect(socket.destroyed).toBe(false);
    const throttled = bytes - atQuota;
    expect(throttled).toBeGreaterThan(0);
    expect(throttled).toBeLessThan(MAX_CHUNK_BYTES + rate + rate * 1.5 + 2 * 65536);

    const refused = await socks5Connect(relay.port, "127.0.0.1", source.port, "carol");
    expect(refused.reply).toEqual(REFUSED_NOT_ALLOWED);
    refused.client.socket.destroy();
    socket.destroy();
    const records = await relay.waitForRecords(2);
    expect(records.find((r) => r.status === "rejected")?.closeReason).toBe("quota");
    expect(records.find((r) => r.status === "closed")?.closeReason).not.toBe("quota");
    const text = await relay.relay.metrics.registry.metrics();
    expect(text).toMatch(
      /edgesocks_relay_quota_exhausted_total\{action="throttled",scope="user"\} 1/,
    );
  });

  it("counts only the configured direction: an upload-only quota lets downloads through", async () => {
    await using source = await startSourceTarget();
    await using relay = await startTestRelay(`
[auth]
socks_method = "userpass"
[[auth.users]]
username = "dave"
password = "dave"
quota = { bytes = 100000, period = "month", direction = "up" }
`);
    const session = await socks5Connect(relay.port, "127.0.0.1", source.port, "dave");
    let bytes = 0;
    session.client.socket.on("data", (chunk: Buffer) => {
      bytes += chunk.length;
    });
    await eventually("a download past the upload quota", () =>
      bytes > 1_000_000 ? true : undefined,
    );
    session.client.socket.destroy();
  });
});
