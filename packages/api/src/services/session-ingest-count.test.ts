import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { migrateDatabase, openDatabase } from "@edgesocks/db";
import { sessions } from "@edgesocks/db/schema";
import { createRegistry } from "@edgesocks/telemetry";
import { expect, it } from "vitest";
import { createControlMetrics } from "../metrics";
import { IngestInput, type SessionRecord } from "../wire";
import { SessionIngest } from "./session-ingest";
import { sessionView } from "./session-query";

const rejected = (count?: number): SessionRecord => ({
  id: randomUUID(),
  node: null,
  region: null,
  user: "",
  clientAddress: "192.0.2.7",
  clientPort: 40000,
  protocol: null,
  transport: "tcp",
  command: null,
  destinationHost: null,
  destinationAddress: null,
  destinationPort: null,
  startedAt: "2030-01-01T00:00:00Z",
  endedAt: "2030-01-01T00:00:59Z",
  durationMs: 59_000,
  bytesUp: 0,
  bytesDown: 0,
  packetsUp: 0,
  packetsDown: 0,
  status: "rejected",
  decision: null,
  ruleId: null,
  closeReason: "handshake_timeout",
  ...(count === undefined ? {} : { count }),
});

it("stores the connection count of a folded rejected record (1 when a relay sends none)", async () => {
  const dir = mkdtempSync(join(tmpdir(), "edgesocks-ingest-count-"));
  try {
    await using database = await openDatabase({ url: `file:${join(dir, "c.db")}` });
    await migrateDatabase(database);
    const ingest = new SessionIngest({ database, metrics: createControlMetrics(createRegistry()) });
    const records = IngestInput.parse({ records: [rejected(250), rejected()] }).records;
    await ingest.ingest({ nodeId: 1, node: "n1", region: "r1" }, records);
    const rows = await database.db.select().from(sessions).orderBy(sessions.seq);
    expect(rows.map((row) => sessionView(row).count)).toEqual([250, 1]);
    expect(IngestInput.safeParse({ records: [rejected(0)] }).success).toBe(false);
    ingest.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
