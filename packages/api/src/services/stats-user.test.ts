import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { catchUpSessionRollups, type Database, migrateDatabase, openDatabase } from "@edgesocks/db";
import { afterEach, describe, expect, it } from "vitest";
import type { SessionRecord } from "../wire";
import { SESSION_ROWS_INSERT_SQL, sessionRow } from "./session-ingest";
import { statsSummary } from "./stats";

const HOUR = 3_600_000;
const BASE = Date.parse("2030-03-10T00:00:00Z");

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function record(startedMs: number): SessionRecord {
  return {
    id: randomUUID(),
    node: null,
    region: null,
    user: "alice",
    clientAddress: "10.0.0.1",
    clientPort: 40000,
    protocol: "socks5",
    transport: "tcp",
    command: "connect",
    destinationHost: "a.test",
    destinationAddress: "192.0.2.1",
    destinationPort: 443,
    startedAt: new Date(startedMs).toISOString(),
    endedAt: new Date(startedMs + 1000).toISOString(),
    durationMs: 1000,
    bytesUp: 10,
    bytesDown: 100,
    packetsUp: 1,
    packetsDown: 1,
    status: "closed",
    decision: "allow",
    ruleId: null,
    closeReason: "client closed",
  };
}

async function insert(database: Database, startsMs: number[]): Promise<void> {
  const source = { nodeId: 1, node: "eu-1", region: "eu" };
  const rows = startsMs.map((ms) => sessionRow(record(ms), source, BASE));
  await database.client.execute({ sql: SESSION_ROWS_INSERT_SQL, args: [JSON.stringify(rows)] });
  await catchUpSessionRollups(database);
}

describe("statsSummary with a user filter", () => {
  it("reads the whole hours the rollups count from its cache until their rollup rows change", async () => {
    const dir = mkdtempSync(join(tmpdir(), "edgesocks-stats-user-"));
    dirs.push(dir);
    await using database = await openDatabase({ url: `file:${join(dir, "control.db")}` });
    await migrateDatabase(database);
    // 20 sessions in the second hour of a three-hour window: one whole hour the rollups count.
    await insert(
      database,
      Array.from({ length: 20 }, (_, i) => BASE + HOUR + i * 60_000),
    );
    const window = {
      user: "alice",
      from: new Date(BASE).toISOString(),
      to: new Date(BASE + 3 * HOUR).toISOString(),
      top: 10,
    };
    const first = await statsSummary(database, window);
    expect(first.totals).toMatchObject({ sessions: 20, bytesUp: 200, bytesDown: 2000 });
    expect(first.topDestinations).toEqual([{ host: "a.test", sessions: 20, bytes: 2200 }]);

    // Changed behind the rollups' back: the hour's version did not move, so it is not re-read.
    await database.client.execute("UPDATE sessions SET bytes_up = 1010, bytes_total = 1110");
    expect((await statsSummary(database, window)).totals.bytesUp).toBe(200);

    // A new session in that hour moves its version: the hour is read again, all of it.
    await insert(database, [BASE + HOUR + 30 * 60_000]);
    const after = await statsSummary(database, window);
    expect(after.totals).toMatchObject({ sessions: 21, bytesUp: 20 * 1010 + 10 });
    expect(after.topDestinations).toEqual([
      { host: "a.test", sessions: 21, bytes: 20 * 1110 + 110 },
    ]);
  });
});
