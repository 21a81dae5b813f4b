import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { migrateDatabase, openDatabase } from "@edgesocks/db";
import { createRegistry } from "@edgesocks/telemetry";
import { expect, it } from "vitest";
import { createControlMetrics } from "../metrics";
import { IngestInput, type SessionRecord } from "../wire";
import { SessionIngest } from "./session-ingest";
import { getSession, sessionView } from "./session-query";

const record = (route?: string): SessionRecord => ({
  id: randomUUID(),
  node: null,
  region: null,
  user: "alice",
  clientAddress: "127.0.0.1",
  clientPort: 40000,
  protocol: "socks5",
  transport: "tcp",
  command: "connect",
  destinationHost: "only-the-parent-knows.test",
  destinationAddress: null,
  destinationPort: 443,
  startedAt: "2030-01-01T00:00:00Z",
  endedAt: "2030-01-01T00:00:01Z",
  durationMs: 1000,
  bytesUp: 10,
  bytesDown: 20,
  packetsUp: 1,
  packetsDown: 1,
  status: "closed",
  decision: "allow",
  ruleId: "r1",
  closeReason: "client_closed",
  ...(route === undefined ? {} : { route }),
});

it("stores the route a session took (null for a direct one, and from older relays)", async () => {
  const dir = mkdtempSync(join(tmpdir(), "edgesocks-ingest-route-"));
  try {
    await using database = await openDatabase({ url: `file:${join(dir, "c.db")}` });
    await migrateDatabase(database);
    const ingest = new SessionIngest({ database, metrics: createControlMetrics(createRegistry()) });
    const records = IngestInput.parse({ records: [record("via-parent#1"), record()] }).records;
    await ingest.ingest({ nodeId: 1, node: "n1", region: "r1" }, records);
    const routed = await getSession(database.db, records[0]!.id);
    const direct = await getSession(database.db, records[1]!.id);
    expect(sessionView(routed!).route).toBe("via-parent#1");
    expect(sessionView(direct!).route).toBeNull();
    expect(IngestInput.safeParse({ records: [record("x".repeat(101))] }).success).toBe(false);
    ingest.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
