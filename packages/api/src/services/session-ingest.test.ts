import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { catchUpSessionRollups, migrateDatabase, openDatabase, rollupBacklog } from "@edgesocks/db";
import { createRegistry } from "@edgesocks/telemetry";
import { afterEach, describe, expect, it, vi } from "vitest";
import { createControlMetrics } from "../metrics";
import type { SessionRecord } from "../wire";
import { SessionIngest } from "./session-ingest";
import { querySessionHistory, SessionHistoryInput } from "./session-query";
import { StatsSummaryInput, statsSummary } from "./stats";

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function record(): SessionRecord {
  return {
    destinationCountry: "DE",
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
    startedAt: "2030-01-01T00:00:00Z",
    endedAt: "2030-01-01T00:00:01Z",
    durationMs: 1000,
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

describe("SessionIngest", () => {
  it("commits batches that arrive together in one transaction, with per-batch counts", async () => {
    const dir = mkdtempSync(join(tmpdir(), "edgesocks-ingest-"));
    dirs.push(dir);
    await using database = await openDatabase({ url: `file:${join(dir, "c.db")}` });
    await migrateDatabase(database);
    const metrics = createControlMetrics(createRegistry());
    const ingest = new SessionIngest({ database, metrics });
    const source = { nodeId: 1, node: "n1", region: "r1" };
    const shared = Array.from({ length: 700 }, record);
    const results = await Promise.all([
      ingest.ingest(source, shared),
      ingest.ingest(source, shared), // a retry racing the original: all duplicates
      ingest.ingest(source, [record(), shared[0]!]),
    ]);
    expect(results).toEqual([
      { inserted: 700, duplicates: 0 },
      { inserted: 0, duplicates: 700 },
      { inserted: 1, duplicates: 1 },
    ]);
    expect((await metrics.ingestBatchesTotal.get()).values[0]?.value).toBe(1);
    const count = await database.client.execute(
      "SELECT count(*), min(node), min(region) FROM sessions",
    );
    expect(count.rows[0]).toEqual(expect.objectContaining({ 0: 701, 1: "n1", 2: "r1" }));
  });
});

describe("SessionIngest text", () => {
  it("stores quotes, backslashes and even a lone surrogate past the schema as valid UTF-8, in one commit with plain batches", async () => {
    const dir = mkdtempSync(join(tmpdir(), "edgesocks-ingest-"));
    dirs.push(dir);
    await using database = await openDatabase({ url: `file:${join(dir, "c.db")}` });
    await migrateDatabase(database);
    const ingest = new SessionIngest({ database, metrics: createControlMetrics(createRegistry()) });
    const source = { nodeId: 1, node: "n1", region: "r1" };
    const plain = { ...record(), user: "plain ü 🦊" };
    const quoted = { ...record(), user: 'say "hi" \\ C:\\temp', closeReason: "a\ud800b" };
    const results = await Promise.all([
      ingest.ingest(source, [plain]),
      ingest.ingest(source, [quoted]),
      ingest.ingest(source, [quoted, plain]), // retries of both kinds in the same commit
    ]);
    expect(results).toEqual([
      { inserted: 1, duplicates: 0 },
      { inserted: 1, duplicates: 0 },
      { inserted: 0, duplicates: 2 },
    ]);
    // Reading the text back is what aborted the process when SQLite decoded `\ud800`.
    const rows = await database.client.execute({
      sql: "SELECT user, close_reason FROM sessions WHERE id IN (?, ?) ORDER BY seq",
      args: [plain.id, quoted.id],
    });
    expect(rows.rows.map((row) => [row[0], row[1]])).toEqual([
      ["plain ü 🦊", "done"],
      ['say "hi" \\ C:\\temp', "a\ufffdb"],
    ]);
    await ingest.close();
  });
});

describe("SessionIngest rollups", () => {
  it("counts new sessions into the rollups once ingest is quiet, each exactly once", async () => {
    const dir = mkdtempSync(join(tmpdir(), "edgesocks-ingest-"));
    dirs.push(dir);
    await using database = await openDatabase({ url: `file:${join(dir, "c.db")}` });
    await migrateDatabase(database);
    const metrics = createControlMetrics(createRegistry());
    const ingest = new SessionIngest({ database, metrics, rollups: { idleMs: 20 } });
    const source = { nodeId: 1, node: "n1", region: "r1" };
    const records = Array.from({ length: 300 }, record);
    await Promise.all([ingest.ingest(source, records), ingest.ingest(source, records)]);
    await ingest.ingest(source, records.slice(0, 100)); // a late retry
    await vi.waitFor(async () => expect(await rollupBacklog(database)).toBe(0), {
      timeout: 5000,
    });
    const sums = await database.client.execute(
      "SELECT dimension, grain_ms, sum(sessions), sum(bytes_up) FROM session_rollups GROUP BY 1, 2",
    );
    expect(sums.rows.map((row) => [row[0], row[1], row[2], row[3]])).toEqual([
      ["country", 3_600_000, 300, 300],
      ["country", 86_400_000, 300, 300],
      ["host", 3_600_000, 300, 300],
      ["host", 86_400_000, 300, 300],
      ["node", 60_000, 300, 300],
      ["node", 3_600_000, 300, 300],
      ["node", 86_400_000, 300, 300],
      ["user", 3_600_000, 300, 300],
      ["user", 86_400_000, 300, 300],
    ]);
    await ingest.close();
  });
});

describe("session countries", () => {
  it("stores both countries, filters the history by destination country and ranks countries in stats.summary", async () => {
    const dir = mkdtempSync(join(tmpdir(), "edgesocks-ingest-"));
    dirs.push(dir);
    await using database = await openDatabase({ url: `file:${join(dir, "c.db")}` });
    await migrateDatabase(database);
    const ingest = new SessionIngest({ database, metrics: createControlMetrics(createRegistry()) });
    const source = { nodeId: 1, node: "n1", region: "r1" };
    const { destinationCountry: _, ...noCountry } = record();
    const batch: SessionRecord[] = [
      ...Array.from({ length: 3 }, () => ({ ...record(), bytesDown: 100 })),
      { ...record(), destinationCountry: "FR", clientCountry: "IT", bytesDown: 1000 },
      { ...noCountry, id: randomUUID() },
    ];
    expect(await ingest.ingest(source, batch)).toEqual({ inserted: 5, duplicates: 0 });
    const page = (input: object) =>
      querySessionHistory(
        database.db,
        SessionHistoryInput.parse({
          ...input,
          from: "2029-12-31T00:00:00Z",
          to: "2030-01-02T00:00:00Z",
        }),
      );
    const french = await page({ country: "FR" });
    expect(french.items.map((s) => [s.destinationCountry, s.clientCountry])).toEqual([
      ["FR", "IT"],
    ]);
    expect((await page({ country: "DE" })).items).toHaveLength(3);
    expect((await page({})).items.filter((s) => s.destinationCountry === null)).toHaveLength(1);
    expect(() => SessionHistoryInput.parse({ country: "de" })).toThrow(/two capitals/);

    const window = { from: "2030-01-01T00:00:00Z", to: "2030-01-02T00:00:00Z" };
    // Before the rollup pass (read from sessions) and after it (from the rollups): the same answer.
    const expected = [
      { country: "FR", sessions: 1, bytes: 1001 },
      { country: "DE", sessions: 3, bytes: 303 },
    ];
    expect((await statsSummary(database, StatsSummaryInput.parse(window))).topCountries).toEqual(
      expected,
    );
    await catchUpSessionRollups(database);
    expect((await statsSummary(database, StatsSummaryInput.parse(window))).topCountries).toEqual(
      expected,
    );
    const oneUser = await statsSummary(database, StatsSummaryInput.parse({ ...window, user: "u" }));
    expect(oneUser.topCountries).toBeNull();
    await ingest.close();
  });
});
