import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  catchUpSessionRollups,
  type Database,
  migrateDatabase,
  openDatabase,
  rollupPassStatements,
} from "@edgesocks/db";
import { createRegistry } from "@edgesocks/telemetry";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createControlMetrics } from "../metrics";
import type { SessionRecord } from "../wire";
import { deleteExpiredSessions } from "./retention";
import { type IngestSource, SessionIngest } from "./session-ingest";
import { statsSummary } from "./stats";

const MINUTE = 60_000;
const HOUR = 3_600_000;
const DAY = 86_400_000;
const BASE = Date.parse("2030-03-10T00:00:00Z");
const SPAN = 3 * DAY;

const SOURCES: IngestSource[] = [
  { nodeId: 1, node: "eu-1", region: "eu" },
  { nodeId: 2, node: "eu-2", region: "eu" },
  { nodeId: 3, node: "us-1", region: "us" },
];
const USERS = ["alice", "bob", "carol", "dave", "erin", "frank"];
const HOSTS = ["a.test", "b.test", "c.test", "d.test", "e.test", null];

interface Stored {
  record: SessionRecord;
  source: IngestSource;
  startedMs: number;
}

let seed = 42;
function random(): number {
  seed = (seed * 16807) % 2147483647;
  return seed / 2147483647;
}
const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * random() * items.length)]!;

/** Start times cluster on bucket edges too, where off-by-one errors live. */
function startTime(): number {
  const r = random();
  const grain = [MINUTE, HOUR, DAY][Math.floor(random() * 3)]!;
  if (r < 0.2) return BASE + Math.floor((random() * SPAN) / grain) * grain;
  if (r < 0.3) return BASE + Math.floor((random() * SPAN) / grain) * grain - 1;
  return BASE + Math.floor(random() * SPAN);
}

let counter = 0;
function makeRecord(): SessionRecord {
  counter += 1;
  const started = startTime();
  const rejected = random() < 0.15;
  const decision = rejected ? "block" : random() < 0.1 ? null : "allow";
  return {
    id: `00000000-0000-4000-8000-${counter.toString(16).padStart(12, "0")}`,
    node: null,
    region: null,
    user: pick(USERS),
    clientAddress: "127.0.0.1",
    clientPort: 1,
    protocol: "socks5",
    transport: "tcp",
    command: "connect",
    destinationHost: pick(HOSTS),
    destinationAddress: "192.0.2.1",
    destinationPort: 443,
    startedAt: new Date(started).toISOString(),
    endedAt: new Date(started + 1000).toISOString(),
    durationMs: 1000,
    bytesUp: Math.floor(random() * 1000),
    bytesDown: Math.floor(random() * 10_000),
    packetsUp: 1,
    packetsDown: 1,
    status: rejected ? "rejected" : random() < 0.05 ? "failed" : "closed",
    decision,
    ruleId: null,
    closeReason: "done",
  };
}

interface Query {
  fromMs: number;
  toMs: number;
  bucketMs: number;
  node?: string;
  region?: string;
  user?: string;
  top: number;
}

type Entry = { key: string; sessions: number; bytes: number };

function topList(map: Map<string, Entry>, by: "sessions" | "bytes", n: number): Entry[] {
  return [...map.values()]
    .sort((a, b) => b[by] - a[by] || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
    .slice(0, n);
}

/** stats.summary computed the obvious way, from the records themselves. */
function expected(stored: readonly Stored[], q: Query) {
  const rows = stored.filter(
    (s) =>
      s.startedMs >= q.fromMs &&
      s.startedMs < q.toMs &&
      (q.node === undefined || s.source.node === q.node) &&
      (q.region === undefined || s.source.region === q.region) &&
      (q.user === undefined || s.record.user === q.user),
  );
  const totals = {
    sessions: rows.length,
    bytesUp: 0,
    bytesDown: 0,
    rejected: 0,
    failed: 0,
    aclAllow: 0,
    aclBlock: 0,
  };
  const nodes = new Map<string, { node: string; region: string; sessions: number }>();
  const users = new Map<string, Entry>();
  const hosts = new Map<string, Entry>();
  const series = new Map<number, { sessions: number; bytes: number; rejected: number }>();
  for (const { record: r, source, startedMs } of rows) {
    const bytes = r.bytesUp + r.bytesDown;
    totals.bytesUp += r.bytesUp;
    totals.bytesDown += r.bytesDown;
    totals.rejected += r.status === "rejected" ? 1 : 0;
    totals.failed += r.status === "failed" ? 1 : 0;
    totals.aclAllow += r.decision === "allow" ? 1 : 0;
    totals.aclBlock += r.decision === "block" ? 1 : 0;
    const node = nodes.get(source.node) ?? { ...source, sessions: 0 };
    node.sessions += 1;
    nodes.set(source.node, node);
    const user = users.get(r.user) ?? { key: r.user, sessions: 0, bytes: 0 };
    user.sessions += 1;
    user.bytes += bytes;
    users.set(r.user, user);
    if (r.destinationHost !== null) {
      const host = hosts.get(r.destinationHost) ?? {
        key: r.destinationHost,
        sessions: 0,
        bytes: 0,
      };
      host.sessions += 1;
      host.bytes += bytes;
      hosts.set(r.destinationHost, host);
    }
    const at = Math.floor(startedMs / q.bucketMs) * q.bucketMs;
    const point = series.get(at) ?? { sessions: 0, bytes: 0, rejected: 0 };
    point.sessions += 1;
    point.bytes += bytes;
    point.rejected += r.status === "rejected" ? 1 : 0;
    series.set(at, point);
  }
  return {
    totals,
    byNode: [...nodes.values()]
      .map((n) => [n.node, n.region, n.sessions] as const)
      .sort((a, b) => (a[0] < b[0] ? -1 : 1)),
    topUsersByBytes: topList(users, "bytes", q.top),
    topUsersBySessions: topList(users, "sessions", q.top),
    topDestinations: topList(hosts, "sessions", q.top),
    series: [...series.entries()]
      .sort((a, b) => a[0] - b[0])
      .map(([at, p]) => ({ at: new Date(at).toISOString(), ...p })),
  };
}

async function actual(database: Database, q: Query) {
  const s = await statsSummary(database, {
    from: new Date(q.fromMs).toISOString(),
    to: new Date(q.toMs).toISOString(),
    bucketMs: q.bucketMs,
    node: q.node,
    region: q.region,
    user: q.user,
    top: q.top,
  });
  const entries = (list: { sessions: number; bytes: number }[], key: (e: never) => string) =>
    list.map((e) => ({ key: key(e as never), sessions: e.sessions, bytes: e.bytes }));
  const ties = (list: Entry[], by: "sessions" | "bytes") =>
    // The API breaks ties in key order only among whole-window sums; compare values, then keys.
    list.map((e) => [e[by], e.key]);
  return {
    totals: s.totals,
    byNode: s.byNode
      .map((n) => [n.node, n.region, n.sessions] as const)
      .sort((a, b) => ((a[0] ?? "") < (b[0] ?? "") ? -1 : 1)),
    topUsersByBytes: ties(
      entries(s.topUsersByBytes, (e: { user: string }) => e.user),
      "bytes",
    ),
    topUsersBySessions: ties(
      entries(s.topUsersBySessions, (e: { user: string }) => e.user),
      "sessions",
    ),
    topDestinations: ties(
      entries(s.topDestinations, (e: { host: string }) => e.host),
      "sessions",
    ),
    series: s.series,
  };
}

function reference(stored: readonly Stored[], q: Query) {
  const e = expected(stored, q);
  const ties = (list: Entry[], by: "sessions" | "bytes") => list.map((x) => [x[by], x.key]);
  return {
    ...e,
    topUsersByBytes: ties(e.topUsersByBytes, "bytes"),
    topUsersBySessions: ties(e.topUsersBySessions, "sessions"),
    topDestinations: ties(e.topDestinations, "sessions"),
  };
}

const edge = (grain: number) =>
  fc
    .tuple(
      fc.integer({ min: -2, max: Math.ceil(SPAN / grain) + 2 }),
      fc.integer({ min: -2, max: 2 }),
    )
    .map(([n, off]) => BASE + n * grain + off);
const instant = fc.oneof(
  fc.integer({ min: BASE - HOUR, max: BASE + SPAN + HOUR }),
  edge(MINUTE),
  edge(HOUR),
  edge(DAY),
);
const queries = fc.record({
  fromMs: instant,
  length: fc.oneof(
    fc.integer({ min: 0, max: 3 * HOUR }),
    fc.integer({ min: 0, max: SPAN + 2 * HOUR }),
  ),
  bucketMs: fc.constantFrom(MINUTE, 5 * MINUTE, 15 * MINUTE, HOUR, 6 * HOUR, DAY, 90_000, 1000),
  node: fc.option(fc.constantFrom("eu-1", "us-1", "nowhere"), { nil: undefined }),
  region: fc.option(fc.constantFrom("eu", "us"), { nil: undefined }),
  user: fc.option(fc.constantFrom("alice", "frank", "nobody"), { freq: 4, nil: undefined }),
  top: fc.integer({ min: 1, max: 8 }),
});

/** Checks random windows, filters and series buckets against the reference. */
async function checkWindows(database: Database, stored: readonly Stored[], runs: number) {
  await fc.assert(
    fc.asyncProperty(queries, async ({ length, ...q }) => {
      const query = { ...q, toMs: q.fromMs + length };
      if (query.bucketMs < 60_000 && length > 6 * HOUR) query.bucketMs = HOUR; // keep it small
      expect(await actual(database, query)).toEqual(reference(stored, query));
    }),
    { numRuns: runs },
  );
}

describe("statsSummary", () => {
  const dir = mkdtempSync(join(tmpdir(), "edgesocks-stats-"));
  let database: Database;
  let ingest: SessionIngest;
  const stored: Stored[] = [];

  async function ingestRecords(count: number, withDuplicates: boolean) {
    const batches = SOURCES.map(() => [] as SessionRecord[]);
    for (let i = 0; i < count; i++) {
      const b = Math.floor(random() * SOURCES.length);
      const record = makeRecord();
      batches[b]!.push(record);
      stored.push({ record, source: SOURCES[b]!, startedMs: Date.parse(record.startedAt) });
    }
    const sends = batches.map((records, i) => ingest.ingest(SOURCES[i]!, records));
    // A retry of an earlier batch: nothing in it may count twice.
    if (withDuplicates) sends.push(ingest.ingest(SOURCES[0]!, batches[0]!.slice(0, 50)));
    await Promise.all(sends);
  }

  beforeAll(async () => {
    database = await openDatabase({ url: `file:${join(dir, "stats.db")}` });
    await migrateDatabase(database);
    const metrics = createControlMetrics(createRegistry());
    // Passes only when the test runs them, so the cursor can sit between sessions.
    ingest = new SessionIngest({
      database,
      metrics,
      rollups: { idleMs: 3_600_000, maxDelayMs: 3_600_000, pollIntervalMs: 3_600_000 },
    });
  });
  afterAll(async () => {
    await ingest.close();
    await database.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("is exact for any window, filter and series bucket, before, during and after rollup passes", async () => {
    await ingestRecords(1500, false);
    await checkWindows(database, stored, 40); // nothing counted in rollups yet
    await database.client.batch(rollupPassStatements(700), "write"); // the cursor mid-way
    await ingestRecords(800, true);
    await checkWindows(database, stored, 60);
    await catchUpSessionRollups(database, 500);
    await checkWindows(database, stored, 60); // the cache from earlier runs must not be stale
    await ingestRecords(300, true); // late sessions into buckets that are cached
    await database.client.batch(rollupPassStatements(100), "write");
    await checkWindows(database, stored, 60);
  });

  it("stays exact after retention deletes whole days, and counts sessions that arrive later", async () => {
    await catchUpSessionRollups(database);
    const cutoffMs = BASE + DAY + 5 * HOUR; // retention rounds it down to BASE + DAY
    await deleteExpiredSessions({ database, cutoffMs, batchSize: 100 });
    const kept = stored.filter((s) => s.startedMs >= BASE + DAY);
    stored.length = 0;
    stored.push(...kept);
    const left = await database.client.execute(
      "SELECT count(*) FROM session_rollups WHERE bucket_ms < ?",
      [BASE + DAY],
    );
    expect(left.rows[0]?.[0]).toBe(0);
    await checkWindows(database, stored, 40);
    await ingestRecords(300, false); // some of them into the deleted days again
    await checkWindows(database, stored, 40);
    await catchUpSessionRollups(database);
    await checkWindows(database, stored, 40);
  });
});
