/**
 * Control-plane benchmark: sessions.ingest rate through the real server (a child process, so the
 * load generator does not share its event loop), then sessions.history and stats.summary latency
 * over 1,000,000 stored sessions (the rest seeded straight into the database file, indexes built
 * afterwards, rollups rebuilt from the rows). Run twice: on a `file:` database, and on the same
 * kind of file behind a libSQL server over HTTP (our Hrana test server, e2e/support/hrana-server.ts,
 * in its own process; not sqld), with the two side by side.
 * Targets (issue 5): ingest ≥ 50,000 records/s; history/stats p99 < 50 ms with the usual filters.
 *
 *   tsx bench/control-bench.ts             # full run, about 4 minutes (2 per database)
 *   tsx bench/control-bench.ts --quick     # smoke run: 50,000 ingested, 200,000 stored
 *   tsx bench/control-bench.ts --help      # every flag
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { type AppRouter, SESSION_ROWS_INSERT_SQL, sessionRow } from "@edgesocks/api";
import { type SessionRecord, sessionId } from "@edgesocks/api/wire";
import { catchUpSessionRollups, migrateDatabase, openDatabase, rollupBacklog } from "@edgesocks/db";
import { createTRPCClient, httpLink } from "@trpc/client";

const HELP = `tsx bench/control-bench.ts [options]

  --quick              smoke run: 50,000 ingested records, 200,000 stored, fewer query runs
  --ingest N           records sent through sessions.ingest (default 200000)
  --stored N           sessions stored for the query latencies (default 1000000)
  --ingest-order O     time (default: start times over the week, shipped in start order as
                       relays ship them) or random (the same records in random order: each
                       batch then lands on pages all over every index, the harder case)
  --database D         file, http or both (default: both, side by side)
  --skip-ingest        only seed and measure queries
  --skip-queries       only measure ingest
  --profile DIR        run the server under node --cpu-prof, profiles written to DIR
  --keep               keep the database folder (its path is printed)
  -h, --help           this text`;

const { values: flags } = parseArgs({
  options: {
    quick: { type: "boolean", default: false },
    ingest: { type: "string" },
    stored: { type: "string" },
    "ingest-order": { type: "string", default: "time" },
    database: { type: "string", default: "both" },
    "skip-ingest": { type: "boolean", default: false },
    "skip-queries": { type: "boolean", default: false },
    profile: { type: "string" },
    keep: { type: "boolean", default: false },
    help: { type: "boolean", short: "h", default: false },
  },
});
if (flags.help) {
  console.log(HELP);
  process.exit(0);
}

function count(flag: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value < 0) {
    throw new Error(`--${flag}: expected a whole number, got ${JSON.stringify(text)}`);
  }
  return value;
}

type DatabaseKind = "file" | "http";
const DATABASES: Record<string, DatabaseKind[]> = {
  file: ["file"],
  http: ["http"],
  both: ["file", "http"],
};
const KINDS: DatabaseKind[] = (() => {
  const kinds = DATABASES[flags.database];
  if (kinds !== undefined) return kinds;
  throw new Error(`--database: expected file, http or both, got ${JSON.stringify(flags.database)}`);
})();

if (flags["ingest-order"] !== "time" && flags["ingest-order"] !== "random") {
  throw new Error(
    `--ingest-order: expected time or random, got ${JSON.stringify(flags["ingest-order"])}`,
  );
}

const INGEST_BATCH = 1000;
const INGEST_RECORDS = count("ingest", flags.ingest, flags.quick ? 50_000 : 200_000);
const STORED_SESSIONS = count("stored", flags.stored, flags.quick ? 200_000 : 1_000_000);
const RELAYS = 4;
const IN_FLIGHT_PER_RELAY = 2;
const QUERY_RUNS = flags.quick ? 30 : 100;
const STATS_RUNS = flags.quick ? 30 : 100;
const SPAN_MS = 7 * 86_400_000;
const SEED_ROWS_PER_STATEMENT = 50_000;
const ADMIN_TOKEN = `esa_${"b".repeat(43)}`;

let seed = 0x5eed;
function random(): number {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
// Skewed like real traffic: a few users and destinations get most sessions.
const skewed = (n: number) => Math.floor(n * random() ** 3);

const USERS = Array.from({ length: 1000 }, (_, i) => `user${i}`);
const HOSTS = Array.from({ length: 5000 }, (_, i) => `host${i}.example${i % 50}.com`);
// A host resolves to the same address from one session to the next (a few hosts share one, as
// on a CDN), so addresses are as skewed as hosts.
const ADDRESSES = HOSTS.map((_, i) => `93.184.${i % 255}.${Math.floor(i / 7) % 255}`);
const NODES = [
  ["relay-eu-1", "eu-west"],
  ["relay-eu-2", "eu-west"],
  ["relay-us-1", "us-east"],
  ["relay-us-2", "us-east"],
  ["relay-ap-1", "ap-south"],
] as const;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** What the control plane is pointed at, and the file under it (seeding goes there directly). */
interface BenchDatabase {
  kind: DatabaseKind;
  url: string;
  authToken?: string;
  fileUrl: string;
  stop(): Promise<void>;
}

const HRANA_TOKEN = "bench-hrana-token";

async function startDatabase(kind: DatabaseKind, dir: string): Promise<BenchDatabase> {
  const path = join(dir, "control.db");
  const fileUrl = `file:${path}`;
  if (kind === "file") return { kind, url: fileUrl, fileUrl, stop: async () => {} };
  const child = spawn(
    process.execPath,
    [
      "--import",
      "tsx",
      join(import.meta.dirname, "../e2e/support/hrana-server.ts"),
      ...["--db", path, "--auth-token", HRANA_TOKEN],
    ],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  const url = await new Promise<string>((resolve, reject) => {
    let out = "";
    child.stdout.on("data", (chunk: Buffer) => {
      out += chunk;
      const match = /hrana: (\S+)/.exec(out);
      if (match) resolve(match[1]!);
    });
    child.once("exit", (code) => reject(new Error(`the Hrana server exited with ${code}`)));
  });
  return { kind, url, authToken: HRANA_TOKEN, fileUrl, stop: () => stopServer(child) };
}

async function startServer(
  database: BenchDatabase,
  dir: string,
): Promise<{ child: ChildProcess; url: string }> {
  const port = await freePort();
  const profile =
    flags.profile === undefined ? [] : ["--cpu-prof", `--cpu-prof-dir=${resolve(flags.profile)}`];
  if (flags.profile !== undefined) mkdirSync(flags.profile, { recursive: true });
  const child: ChildProcess = spawn(
    process.execPath,
    [...profile, join(import.meta.dirname, "../apps/control/bin/edgesocks-control.mjs")],
    {
      env: {
        ...process.env,
        DATABASE_URL: database.url,
        ...(database.authToken ? { DATABASE_AUTH_TOKEN: database.authToken } : {}),
        PORT: String(port),
        EDGESOCKS_ADMIN_TOKEN: ADMIN_TOKEN,
        EDGESOCKS_ADMIN_TOKEN_FILE: join(dir, "admin-token"),
        EDGESOCKS_LOG_LEVEL: "warn",
      },
      stdio: ["ignore", "ignore", "inherit"],
    },
  );
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 200; i++) {
    try {
      if ((await fetch(`${url}/ready`)).ok) return { child, url };
    } catch {}
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error("the control plane did not become ready");
}

async function stopServer(child: ChildProcess): Promise<void> {
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill("SIGTERM");
  await exited;
}

const client = (url: string, token: string) =>
  createTRPCClient<AppRouter>({
    links: [httpLink({ url: `${url}/trpc`, headers: { authorization: `Bearer ${token}` } })],
  });

function record(nowMs: number): SessionRecord {
  const started = nowMs - Math.floor(random() * SPAN_MS);
  const host = skewed(HOSTS.length);
  const duration = Math.floor(random() * 60_000);
  const rejected = random() < 0.05;
  return {
    // As the relay makes them: a UUIDv7 of the start.
    id: sessionId(started),
    node: null,
    region: null,
    user: USERS[skewed(USERS.length)]!,
    clientAddress: `10.0.${Math.floor(random() * 255)}.${Math.floor(random() * 255)}`,
    clientPort: 1024 + Math.floor(random() * 60000),
    protocol: "socks5",
    transport: "tcp",
    command: "connect",
    destinationHost: HOSTS[host]!,
    destinationAddress: ADDRESSES[host]!,
    destinationPort: pick([80, 443, 443, 443, 22, 8080]),
    startedAt: new Date(started).toISOString(),
    endedAt: new Date(started + duration).toISOString(),
    durationMs: duration,
    bytesUp: Math.floor(random() * 100_000),
    bytesDown: Math.floor(random() * 1_000_000),
    packetsUp: Math.floor(random() * 100),
    packetsDown: Math.floor(random() * 1000),
    status: rejected ? "rejected" : "closed",
    decision: rejected ? "block" : "allow",
    ruleId: rejected ? "block-rule" : null,
    closeReason: rejected ? "acl block" : "client closed",
  };
}

async function benchIngest(url: string): Promise<{ recordsPerSec: number; seconds: number }> {
  const admin = client(url, ADMIN_TOKEN);
  const relays = await Promise.all(
    Array.from({ length: RELAYS }, async (_, i) => {
      const [name, region] = NODES[i % NODES.length]!;
      const { enrollmentToken } = await admin.nodes.enroll.mutate({
        name: `${name}-ingest-${i}`,
        region,
      });
      const { nodeToken } = await client(url, "").nodes.exchange.mutate({
        enrollmentToken,
        softwareVersion: "bench",
        publicAddress: null,
      });
      return client(url, nodeToken);
    }),
  );
  const nowMs = Date.now();
  const records = Array.from({ length: INGEST_RECORDS }, () => record(nowMs));
  // Relays ship sessions as they end: a replay of the week in start order (the default) is how a
  // fleet's batches look; random order over the week is the harder case for the indexes.
  if (flags["ingest-order"] === "time")
    records.sort((a, b) => a.startedAt.localeCompare(b.startedAt));
  const batches = Array.from({ length: Math.ceil(INGEST_RECORDS / INGEST_BATCH) }, (_, b) =>
    records.slice(b * INGEST_BATCH, (b + 1) * INGEST_BATCH),
  );
  let next = 0;
  let inserted = 0;
  const started = performance.now();
  await Promise.all(
    relays.flatMap((relay) =>
      Array.from({ length: IN_FLIGHT_PER_RELAY }, async () => {
        while (next < batches.length) {
          const records = batches[next++]!;
          const result = await relay.sessions.ingest.mutate({ records });
          inserted += result.inserted; // not `+= await`: that reads `inserted` before the wait
        }
      }),
    ),
  );
  const seconds = (performance.now() - started) / 1000;
  if (inserted !== INGEST_RECORDS) throw new Error(`inserted ${inserted} of ${INGEST_RECORDS}`);
  return { recordsPerSec: Math.round(INGEST_RECORDS / seconds), seconds };
}

/** Seconds until the server's background rollup passes have counted every ingested session. */
async function waitForRollups(databaseUrl: string): Promise<number> {
  await using database = await openDatabase({ url: databaseUrl });
  const started = performance.now();
  while ((await rollupBacklog(database)) > 0) {
    if (performance.now() - started > 300_000) throw new Error("the rollups did not catch up");
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return (performance.now() - started) / 1000;
}

function seedRow(nowMs: number): unknown[] {
  const [node, region] = pick(NODES);
  return sessionRow(record(nowMs), { nodeId: 0, node, region }, nowMs);
}

/**
 * Bulk load for the query phase, not a model of ingest: the session indexes are dropped, rows
 * appended without fsync, the indexes rebuilt in one sort each, and the rollups rebuilt from
 * the rows (what the migration does for an existing database).
 */
async function seedSessions(databaseUrl: string, count: number): Promise<number> {
  await using database = await openDatabase({ url: databaseUrl });
  const { client } = database;
  const started = performance.now();
  const indexes = await client.execute(
    // The unique id index stays: the ingest's INSERT names it in ON CONFLICT(id).
    "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'sessions' AND sql IS NOT NULL AND sql NOT LIKE 'CREATE UNIQUE %'",
  );
  await client.execute("PRAGMA cache_size = -524288");
  await client.execute("PRAGMA synchronous = OFF");
  for (const index of indexes.rows) await client.execute(`DROP INDEX "${String(index.name)}"`);
  // One JSON parameter per statement; each row is parsed once into JSONB (see session-ingest.ts).
  const sql = SESSION_ROWS_INSERT_SQL;
  const nowMs = Date.now();
  for (let done = 0; done < count; ) {
    const rows: unknown[][] = [];
    for (; rows.length < SEED_ROWS_PER_STATEMENT && done < count; done++) rows.push(seedRow(nowMs));
    await client.execute({ sql, args: [JSON.stringify(rows)] });
  }
  for (const index of indexes.rows) await client.execute(String(index.sql));
  const rollupsStarted = performance.now();
  await catchUpSessionRollups(database);
  rollupSeconds = (performance.now() - rollupsStarted) / 1000;
  await client.execute("ANALYZE");
  // Flush what synchronous = OFF left to the kernel now, not during the measurements.
  await client.execute("PRAGMA synchronous = FULL");
  await client.execute("PRAGMA wal_checkpoint(TRUNCATE)");
  return (performance.now() - started) / 1000;
}
let rollupSeconds = 0;

// The load generator's own garbage (the ingested records, the seed's JSON) must not be collected
// while it times queries: a full collection of it is a 100+ ms pause in one round trip.
setFlagsFromString("--expose-gc");
const collectGarbage = runInNewContext("gc") as () => void;

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function timeQuery(name: string, run: () => Promise<unknown>, runs = QUERY_RUNS) {
  // The first call is reported apart: the server's caches are cold for it.
  const firstStarted = performance.now();
  await run();
  const firstMs = performance.now() - firstStarted;
  for (let i = 0; i < 4; i++) await run();
  collectGarbage();
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const started = performance.now();
    await run();
    times.push(performance.now() - started);
  }
  times.sort((a, b) => a - b);
  const row = {
    query: name,
    p50Ms: +percentile(times, 50).toFixed(2),
    p99Ms: +percentile(times, 99).toFixed(2),
    firstMs: +firstMs.toFixed(2),
  };
  console.log(
    `  ${name.padEnd(58)} p50 ${row.p50Ms.toFixed(2).padStart(8)} ms   p99 ${row.p99Ms.toFixed(2).padStart(8)} ms   first ${row.firstMs.toFixed(2).padStart(8)} ms`,
  );
  return row;
}

async function benchQueries(url: string) {
  const admin = client(url, ADMIN_TOKEN);
  const dayAgo = new Date(Date.now() - 86_400_000).toISOString();
  const hourAgo = new Date(Date.now() - 3_600_000).toISOString();
  const weekAgo = new Date(Date.now() - SPAN_MS).toISOString();
  const page1 = await admin.sessions.history.query({ limit: 50 });
  return [
    await timeQuery("history: newest 50", () => admin.sessions.history.query({ limit: 50 })),
    await timeQuery("history: page 2 (cursor)", () =>
      admin.sessions.history.query({ limit: 50, cursor: page1.nextCursor }),
    ),
    await timeQuery("history: user (popular)", () =>
      admin.sessions.history.query({ user: "user0" }),
    ),
    await timeQuery("history: user (rare)", () =>
      admin.sessions.history.query({ user: "user900" }),
    ),
    await timeQuery("history: node + last 24 h", () =>
      admin.sessions.history.query({ node: "relay-us-1", from: dayAgo }),
    ),
    await timeQuery("history: region + last 24 h", () =>
      admin.sessions.history.query({ region: "eu-west", from: dayAgo }),
    ),
    await timeQuery("history: destination host", () =>
      admin.sessions.history.query({ destination: "host3.example3.com" }),
    ),
    await timeQuery("history: destination *.domain", () =>
      admin.sessions.history.query({ destination: "*.example7.com" }),
    ),
    await timeQuery("history: destination CIDR /16 (matches every row)", () =>
      admin.sessions.history.query({ destination: "93.184.0.0/16" }),
    ),
    await timeQuery("history: destination CIDR /24", () =>
      admin.sessions.history.query({ destination: "93.184.7.0/24" }),
    ),
    await timeQuery("history: status rejected", () =>
      admin.sessions.history.query({ status: ["rejected"] }),
    ),
    await timeQuery("history: user + rejected + last 24 h", () =>
      admin.sessions.history.query({ user: "user1", status: ["rejected"], from: dayAgo }),
    ),
    await timeQuery("history: sort by bytes, last hour", () =>
      admin.sessions.history.query({
        from: hourAgo,
        sort: { field: "bytes", direction: "desc" },
      }),
    ),
    await timeQuery(
      "stats.summary: last hour",
      () => admin.stats.summary.query({ from: hourAgo }),
      STATS_RUNS,
    ),
    await timeQuery(
      "stats.summary: last 24 h (default)",
      () => admin.stats.summary.query({}),
      STATS_RUNS,
    ),
    await timeQuery(
      "stats.summary: last 24 h, one node",
      () => admin.stats.summary.query({ node: "relay-eu-1" }),
      STATS_RUNS,
    ),
    await timeQuery(
      "stats.summary: last 24 h, one region",
      () => admin.stats.summary.query({ region: "us-east" }),
      STATS_RUNS,
    ),
    await timeQuery(
      "stats.summary: last 24 h, typical user",
      () => admin.stats.summary.query({ user: "user500" }),
      STATS_RUNS,
    ),
    await timeQuery(
      "stats.summary: last 24 h, popular user",
      () => admin.stats.summary.query({ user: "user0" }),
      STATS_RUNS,
    ),
    await timeQuery(
      "stats.summary: 7 days",
      () => admin.stats.summary.query({ from: weekAgo }),
      STATS_RUNS,
    ),
  ];
}

interface BenchResult {
  ingest: {
    recordsPerSec: number;
    seconds: number;
    rollupsCaughtUpSeconds: number;
    withRollupsPerSec: number;
  } | null;
  seedSeconds: number | null;
  queries: Awaited<ReturnType<typeof benchQueries>>;
}

async function benchDatabase(kind: DatabaseKind): Promise<BenchResult> {
  const dir = mkdtempSync(join(tmpdir(), "edgesocks-control-bench-"));
  const database = await startDatabase(kind, dir);
  let server: { child: ChildProcess; url: string } | null = null;
  const result: BenchResult = { ingest: null, seedSeconds: null, queries: [] };
  try {
    {
      await using db = await openDatabase({ url: database.url, authToken: database.authToken });
      await migrateDatabase(db);
    }
    if (!flags["skip-ingest"] && INGEST_RECORDS > 0) {
      server = await startServer(database, dir);
      console.log(
        `sessions.ingest: ${INGEST_RECORDS.toLocaleString("en")} records, batches of ${INGEST_BATCH}, ${RELAYS} relays × ${IN_FLIGHT_PER_RELAY} in flight, HTTP, ${kind}: database, records in ${flags["ingest-order"]} order`,
      );
      const acked = await benchIngest(server.url);
      const rollupsSeconds = await waitForRollups(database.fileUrl);
      result.ingest = {
        ...acked,
        rollupsCaughtUpSeconds: rollupsSeconds,
        withRollupsPerSec: Math.round(INGEST_RECORDS / (acked.seconds + rollupsSeconds)),
      };
      console.log(
        `  ${result.ingest.recordsPerSec.toLocaleString("en")} records/s acknowledged (${acked.seconds.toFixed(2)} s); stats rollups caught up ${rollupsSeconds.toFixed(2)} s later (${result.ingest.withRollupsPerSec.toLocaleString("en")} records/s counted)`,
      );
      await stopServer(server.child);
    }
    if (!flags["skip-queries"]) {
      const seedCount = Math.max(
        0,
        STORED_SESSIONS - (result.ingest === null ? 0 : INGEST_RECORDS),
      );
      result.seedSeconds = await seedSessions(database.fileUrl, seedCount);
      console.log(
        `seeded ${seedCount.toLocaleString("en")} more sessions in ${result.seedSeconds.toFixed(1)} s (rollup passes over all ${STORED_SESSIONS.toLocaleString("en")}: ${rollupSeconds.toFixed(1)} s); ${STORED_SESSIONS.toLocaleString("en")} stored over 7 days`,
      );
      server = await startServer(database, dir);
      console.log(
        `latency over ${STORED_SESSIONS.toLocaleString("en")} sessions, ${kind}: database (HTTP round trip, ${QUERY_RUNS} runs each, stats ${STATS_RUNS}):`,
      );
      result.queries = await benchQueries(server.url);
      await stopServer(server.child);
    }
    return result;
  } finally {
    if (server !== null && server.child.exitCode === null) await stopServer(server.child);
    await database.stop();
    if (flags.keep) console.log(`database kept in ${dir}`);
    else rmSync(dir, { recursive: true, force: true });
  }
}

/** The two databases' figures in one table (records/s for ingest, p50 / p99 in ms for queries). */
function sideBySide(results: Partial<Record<DatabaseKind, BenchResult>>): void {
  const { file, http } = results;
  if (file === undefined || http === undefined) return;
  const line = (name: string, a: string, b: string) =>
    console.log(`  ${name.padEnd(52)} ${a.padStart(16)} ${b.padStart(16)}`);
  const rate = (value: number | undefined) => value?.toLocaleString("en") ?? "-";
  const latency = (q: { p50Ms: number; p99Ms: number } | undefined) =>
    q === undefined ? "-" : `${q.p50Ms} / ${q.p99Ms}`;
  console.log("\nfile: next to http: (a libSQL server over HTTP)");
  line("", "file:", "http:");
  line(
    "ingest, records/s acknowledged",
    rate(file.ingest?.recordsPerSec),
    rate(http.ingest?.recordsPerSec),
  );
  line(
    "ingest, records/s counted in rollups",
    rate(file.ingest?.withRollupsPerSec),
    rate(http.ingest?.withRollupsPerSec),
  );
  for (const [i, query] of file.queries.entries()) {
    line(`${query.query}, p50 / p99 ms`, latency(query), latency(http.queries[i]));
  }
}

async function main() {
  const results: Partial<Record<DatabaseKind, BenchResult>> = {};
  for (const kind of KINDS) results[kind] = await benchDatabase(kind);
  sideBySide(results);
  console.log(JSON.stringify(results));
}

await main();
