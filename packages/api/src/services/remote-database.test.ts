import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { migrateDatabase, openDatabase, rollupBacklog } from "@edgesocks/db";
import { createRegistry } from "@edgesocks/telemetry";
import { afterEach, describe, expect, it, vi } from "vitest";
import { startHranaServer } from "../../../../e2e/support/hrana-server";
import { createControlMetrics } from "../metrics";
import type { SessionRecord } from "../wire";
import { deleteExpiredSessions } from "./retention";
import { SessionIngest } from "./session-ingest";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** The control plane's database on a libSQL server (Hrana over HTTP), with a bearer token. */
async function remoteDatabase() {
  const dir = mkdtempSync(join(tmpdir(), "edgesocks-remote-"));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const server = await startHranaServer({ path: join(dir, "control.db"), authToken: "t0ken" });
  cleanups.push(() => server.close());
  const database = await openDatabase({ url: server.url, authToken: "t0ken" });
  cleanups.push(() => database.close());
  return { server, database };
}

function record(startedAt: string): SessionRecord {
  return {
    id: randomUUID(),
    node: null,
    region: null,
    user: "u",
    clientAddress: "127.0.0.1",
    clientPort: 1,
    protocol: "socks5",
    transport: "tcp",
    command: "connect",
    destinationHost: "example.com",
    destinationAddress: "10.0.0.1",
    destinationPort: 80,
    startedAt,
    endedAt: startedAt,
    durationMs: 0,
    bytesUp: 1,
    bytesDown: 2,
    packetsUp: 1,
    packetsDown: 1,
    status: "closed",
    decision: "allow",
    ruleId: null,
    closeReason: "done",
  };
}

describe("the control plane's data paths over a libSQL server (http:)", () => {
  it("migrates, and a second migration is a no-op", async () => {
    const { database } = await remoteDatabase();
    expect(database.isLocalFile).toBe(false);
    await migrateDatabase(database);
    await migrateDatabase(database);
    const tables = await database.client.execute(
      "SELECT name FROM sqlite_master WHERE type = 'table'",
    );
    const names = tables.rows.map((row) => row[0]);
    for (const table of ["sessions", "snapshots", "nodes", "session_rollups", "fleet"]) {
      expect(names).toContain(table);
    }
  });

  it("ingests racing batches exactly once, rolls them up once, and retention deletes by day", async () => {
    const { server, database } = await remoteDatabase();
    await migrateDatabase(database);
    const metrics = createControlMetrics(createRegistry());
    const ingest = new SessionIngest({ database, metrics, rollups: { idleMs: 20 } });
    cleanups.push(() => ingest.close());
    const source = { nodeId: 1, node: "n1", region: "r1" };
    const old = Array.from({ length: 300 }, () => record("2030-01-01T10:00:00Z"));
    const fresh = Array.from({ length: 400 }, () => record("2030-01-03T10:00:00Z"));
    const results = await Promise.all([
      ingest.ingest(source, [...old, ...fresh]),
      ingest.ingest(source, [...old, ...fresh]), // a retry racing the original
      ingest.ingest(source, fresh.slice(0, 50)),
    ]);
    expect(results.map((r) => r.inserted + r.duplicates)).toEqual([700, 700, 50]);
    expect(results.reduce((sum, r) => sum + r.inserted, 0)).toBe(700);
    await vi.waitFor(async () => expect(await rollupBacklog(database)).toBe(0), {
      timeout: 5000,
    });
    const sums = await database.client.execute(
      "SELECT dimension, grain_ms, sum(sessions) FROM session_rollups GROUP BY 1, 2 ORDER BY 1, 2",
    );
    expect(sums.rows.map((row) => [row[0], row[1], row[2]])).toEqual([
      ["host", 3_600_000, 700],
      ["host", 86_400_000, 700],
      ["node", 60_000, 700],
      ["node", 3_600_000, 700],
      ["node", 86_400_000, 700],
      ["user", 3_600_000, 700],
      ["user", 86_400_000, 700],
    ]);

    const deleted = await deleteExpiredSessions({
      database,
      cutoffMs: Date.parse("2030-01-02T12:00:00Z"),
      batchSize: 128,
    });
    expect(deleted).toBe(300);
    const left = await database.client.execute("SELECT count(*) FROM sessions");
    expect(left.rows[0]?.[0]).toBe(400);
    const daily = await database.client.execute(
      "SELECT sum(sessions) FROM session_rollups WHERE dimension = 'node' AND grain_ms = 86400000",
    );
    expect(daily.rows[0]?.[0]).toBe(400);
    // Every stream the control plane opened was closed again (none left to expire).
    expect(server.openStreams).toBe(0);
  });
});
