import { randomUUID } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import type { SessionRecord } from "@edgesocks/api/wire";
import { createLogger } from "@edgesocks/telemetry";
import { afterEach, describe, expect, it } from "vitest";
import { createRelayMetrics } from "../metrics";
import { PolicyStore } from "../policy/policy-store";
import { spoolSink } from "../spool/checked-spool";
import { Quarantine } from "../spool/quarantine";
import { Spool } from "../spool/spool";
import { startControlProcess } from "../test-support/control-process";
import { eventually } from "../test-support/relay-process";
import { FleetAgent } from "./fleet-agent";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const record = (closeReason = "client_closed"): SessionRecord => ({
  id: randomUUID(),
  node: "n",
  region: "test",
  user: "alice",
  clientAddress: "127.0.0.1",
  clientPort: 40000,
  protocol: "socks5",
  transport: "tcp",
  command: "connect",
  destinationHost: "shipper.test",
  destinationAddress: "10.0.0.1",
  destinationPort: 443,
  startedAt: new Date().toISOString(),
  endedAt: new Date().toISOString(),
  durationMs: 0,
  bytesUp: 1,
  bytesDown: 2,
  packetsUp: 1,
  packetsDown: 1,
  status: "closed",
  decision: "allow",
  ruleId: null,
  closeReason,
});

const quiet = () =>
  createLogger({ destination: new Writable({ write: (_c, _e, done) => done() }) });

/** A FleetAgent on a real control plane process, with its own spool and quarantine. */
async function agentOn(
  control: Awaited<ReturnType<typeof startControlProcess>>,
  name: string,
  options: { batchSize?: number; batchAgeMs?: number } = {},
) {
  const dir = mkdtempSync(join(tmpdir(), "edgesocks-shipper-"));
  dirs.push(dir);
  const metrics = createRelayMetrics();
  const logger = quiet();
  // No `parse`: records ingest refuses must get this far, as from a relay of another version.
  const spool = new Spool<SessionRecord>({ dir: join(dir, "spool") });
  const quarantine = new Quarantine({ path: join(dir, "quarantine.ndjson") });
  const agent = new FleetAgent({
    controlUrl: `${control.url}/trpc`,
    nodeToken: await control.enrollNode(name),
    stateDir: dir,
    store: new PolicyStore(),
    sessions: { activeSessions: async () => [], terminate: () => false },
    spool,
    quarantine,
    metrics,
    logger,
    softwareVersion: "test",
    publicAddress: null,
    heartbeatIntervalMs: 200,
    batchAgeMs: options.batchAgeMs ?? 50,
    ...(options.batchSize === undefined ? {} : { batchSize: options.batchSize }),
    counters: () => ({
      connectionsActive: 0,
      sessionsActive: 0,
      sessionsTotal: 0,
      bytesUp: 0,
      bytesDown: 0,
      rejectedTotal: 0,
      spoolBacklogBytes: spool.backlogBytes(),
      quarantinedRecords: quarantine.size,
    }),
  });
  return {
    agent,
    spool,
    quarantine,
    metrics,
    sink: spoolSink({ spool, quarantine, metrics, logger }),
    [Symbol.asyncDispose]: async () => {
      await agent.close();
      spool.close();
    },
  };
}

describe("SessionShipper against a real control plane", () => {
  it("quarantines only the records ingest refuses, ships the rest, and goes on with the next batch", async () => {
    await using control = await startControlProcess();
    await using relay = await agentOn(control, "relay-q");
    const good = Array.from({ length: 9 }, () => record());
    // Over the wire's 255-character close reason: ingest refuses the whole batch (BAD_REQUEST).
    const bad = record(`terminated by ${"x".repeat(300)}`);
    for (const r of [...good.slice(0, 4), bad, ...good.slice(4)]) relay.spool.append(r);
    relay.agent.start();
    const stored = async (count: number) =>
      eventually(`${count} sessions stored`, async () => {
        const page = await control.api.sessions.history.query({
          destination: "shipper.test",
          limit: 100,
        });
        return page.items.length === count ? page.items : undefined;
      });
    expect(new Set((await stored(9)).map((s) => s.id))).toEqual(new Set(good.map((r) => r.id)));
    expect(relay.quarantine.size).toBe(1);
    const entry = JSON.parse(readFileSync(relay.quarantine.path, "utf8"));
    expect(entry.record.id).toBe(bad.id);
    expect(entry.reason).toMatch(/^refused: /);
    expect((await relay.metrics.recordsQuarantined.get()).values).toEqual([
      expect.objectContaining({ labels: { reason: "refused" }, value: 1 }),
    ]);
    // Shipping goes on.
    relay.spool.append(record());
    await stored(10);
    // The heartbeat carries the count to nodes.list.
    await eventually("nodes.list to show the quarantined record", async () => {
      const node = (await control.api.nodes.list.query()).find((n) => n.name === "relay-q");
      return node?.counters?.quarantinedRecords === 1 ? true : undefined;
    });
  }, 60_000);

  it("ships a record whose admin-made close reason is too long, clamped to the wire limit", async () => {
    await using control = await startControlProcess();
    await using relay = await agentOn(control, "relay-c");
    const long = record(`terminated by ${"é".repeat(300)}`);
    relay.sink.append(long);
    relay.agent.start();
    const stored = await eventually(
      "the session stored",
      async () =>
        (await control.api.sessions.history.query({ destination: "shipper.test", limit: 10 }))
          .items[0],
    );
    expect(stored.id).toBe(long.id);
    expect(stored.closeReason).toBe(long.closeReason.slice(0, 255));
    expect(relay.quarantine.size).toBe(0);
  }, 60_000);

  it("is woken by new records, not by a poll", async () => {
    await using control = await startControlProcess();
    // A partial batch would wait a minute: only the wake-up on a full batch can ship in time.
    await using relay = await agentOn(control, "relay-w", { batchSize: 5, batchAgeMs: 60_000 });
    for (let i = 0; i < 5; i++) relay.spool.append(record());
    relay.agent.start();
    await eventually("the first batch stored", async () =>
      relay.agent.shipper.shipped === 5 ? true : undefined,
    );
    // Idle on an empty spool now; new records wake it.
    await new Promise((r) => setTimeout(r, 300));
    for (let i = 0; i < 5; i++) relay.spool.append(record());
    await eventually("the second batch stored", async () =>
      relay.agent.shipper.shipped === 10 ? true : undefined,
    );
  }, 60_000);

  it("keeps retrying through a control plane outage and quarantines nothing", async () => {
    await using control = await startControlProcess();
    await using relay = await agentOn(control, "relay-t");
    await control.stop();
    const records = Array.from({ length: 3 }, () => record());
    for (const r of records) relay.spool.append(r);
    relay.agent.start();
    // Down for a while: nothing is lost, nothing set aside.
    await new Promise((r) => setTimeout(r, 1500));
    expect(relay.spool.backlogBytes()).toBeGreaterThan(0);
    await control.start();
    await eventually(
      "the records stored after the outage",
      async () => {
        const page = await control.api.sessions.history.query({
          destination: "shipper.test",
          limit: 10,
        });
        return page.items.length === 3 ? true : undefined;
      },
      30_000,
    );
    expect(relay.quarantine.size).toBe(0);
    await eventually("the spool drained", () =>
      relay.spool.backlogBytes() === 0 ? true : undefined,
    );
  }, 60_000);
});
