import type { Database } from "@edgesocks/db";
import type { InValue } from "@libsql/client";
import { addressKey } from "../ip-key";
import type { ControlMetrics } from "../metrics";
import type { SessionRecord } from "../wire";

/** The relay a batch came from (from its node token, never from the records). */
export interface IngestSource {
  nodeId: number;
  node: string;
  region: string;
}

export interface SessionIngestOptions {
  database: Database;
  metrics: ControlMetrics;
  /** Most rows one commit takes; batches past it wait for the next commit. @default 20000 */
  maxRowsPerCommit?: number;
}

interface Pending {
  rows: unknown[][];
  ids: string[];
  resolve: (result: { inserted: number; duplicates: number }) => void;
  reject: (error: unknown) => void;
}

const COLUMNS = [
  "id",
  "node_id",
  "node",
  "region",
  "user",
  "client_address",
  "client_port",
  "protocol",
  "transport",
  "command",
  "destination_host",
  "destination_address",
  "destination_address_key",
  "destination_port",
  "started_at_ms",
  "ended_at_ms",
  "duration_ms",
  "bytes_up",
  "bytes_down",
  "bytes_total",
  "packets_up",
  "packets_down",
  "status",
  "decision",
  "rule_id",
  "close_reason",
  "ingested_at_ms",
] as const;

/**
 * Rows travel as one JSON array parameter per statement, unpacked by SQLite's json_each: binding
 * thousands of separate parameters costs more than the inserts themselves in the libSQL driver.
 * (`WHERE true` is how SQLite's grammar tells an upsert's ON CONFLICT from a join constraint.)
 */
const INSERT_SQL = `INSERT INTO sessions (${COLUMNS.join(",")}) SELECT ${COLUMNS.map((_, i) => `value ->> ${i}`).join(",")} FROM json_each(?) WHERE true ON CONFLICT(id) DO NOTHING RETURNING id`;

/** Rows per statement; each commit is one transaction of one or more statements. */
const ROWS_PER_STATEMENT = 5000;

/**
 * Page cache of the connection that commits ingest, in KiB (negative: SQLite's unit for KiB).
 * The default 2 MiB cache misses on every random id-index page once the table has grown.
 */
const INGEST_CACHE_PRAGMA = "PRAGMA cache_size = -65536";

function toRow(record: SessionRecord, source: IngestSource, nowMs: number): unknown[] {
  return [
    record.id,
    source.nodeId,
    source.node,
    source.region,
    record.user,
    record.clientAddress,
    record.clientPort,
    record.protocol,
    record.transport,
    record.command,
    record.destinationHost,
    record.destinationAddress,
    addressKey(record.destinationAddress),
    record.destinationPort,
    Date.parse(record.startedAt),
    Date.parse(record.endedAt),
    record.durationMs,
    record.bytesUp,
    record.bytesDown,
    record.bytesUp + record.bytesDown,
    record.packetsUp,
    record.packetsDown,
    record.status,
    record.decision,
    record.ruleId,
    record.closeReason,
    nowMs,
  ];
}

/**
 * Idempotent, batched session ingest. Batches from several relays that arrive while a commit is
 * running are committed together in the next one (one transaction, multi-row INSERTs with
 * `ON CONFLICT(id) DO NOTHING RETURNING id`), and each caller learns how many of its own records
 * were new. A retried batch therefore never duplicates a row and gets exact counts.
 */
export class SessionIngest {
  readonly #database: Database;
  readonly #metrics: ControlMetrics;
  readonly #maxRowsPerCommit: number;
  #pending: Pending[] = [];
  #scheduled = false;

  constructor(options: SessionIngestOptions) {
    this.#database = options.database;
    this.#metrics = options.metrics;
    this.#maxRowsPerCommit = options.maxRowsPerCommit ?? 20_000;
  }

  ingest(
    source: IngestSource,
    records: readonly SessionRecord[],
  ): Promise<{ inserted: number; duplicates: number }> {
    const nowMs = Date.now();
    return new Promise((resolve, reject) => {
      this.#pending.push({
        rows: records.map((record) => toRow(record, source, nowMs)),
        ids: records.map((record) => record.id),
        resolve,
        reject,
      });
      this.#schedule();
    });
  }

  #schedule(): void {
    if (this.#scheduled || this.#pending.length === 0) return;
    this.#scheduled = true;
    this.#database.writes
      .run(() => this.#commit())
      .catch((error: unknown) => {
        // #commit() settles its callers itself; this is the queue refusing the commit.
        this.#scheduled = false;
        const refused = this.#pending;
        this.#pending = [];
        for (const pending of refused) pending.reject(error);
      });
  }

  async #commit(): Promise<void> {
    this.#scheduled = false;
    const taken: Pending[] = [];
    let rowCount = 0;
    while (this.#pending.length > 0) {
      const next = this.#pending[0]!;
      if (taken.length > 0 && rowCount + next.rows.length > this.#maxRowsPerCommit) break;
      taken.push(this.#pending.shift()!);
      rowCount += next.rows.length;
    }
    this.#schedule(); // whatever is left, or arrives meanwhile, goes in the next commit
    if (taken.length === 0) return;
    try {
      const rows = taken.flatMap((p) => p.rows);
      const statements: { sql: string; args: InValue[] }[] = [
        { sql: INGEST_CACHE_PRAGMA, args: [] },
      ];
      for (let i = 0; i < rows.length; i += ROWS_PER_STATEMENT) {
        statements.push({
          sql: INSERT_SQL,
          args: [JSON.stringify(rows.slice(i, i + ROWS_PER_STATEMENT))],
        });
      }
      const results = await this.#database.client.batch(statements, "write");
      const inserted = new Set<string>();
      for (const result of results) for (const row of result.rows) inserted.add(row[0] as string);
      this.#metrics.ingestBatchesTotal.inc();
      for (const pending of taken) {
        let count = 0;
        for (const id of pending.ids) {
          // Claim each new id once: a retry queued in the same commit counts as a duplicate.
          if (inserted.delete(id)) count += 1;
        }
        const duplicates = pending.ids.length - count;
        this.#metrics.ingestRowsTotal.inc({ result: "inserted" }, count);
        if (duplicates > 0) this.#metrics.ingestRowsTotal.inc({ result: "duplicate" }, duplicates);
        pending.resolve({ inserted: count, duplicates });
      }
    } catch (error) {
      for (const pending of taken) pending.reject(error);
    }
  }

  /** Fails every batch still waiting (on shutdown). */
  close(): void {
    const pending = this.#pending;
    this.#pending = [];
    for (const p of pending) p.reject(new Error("the control plane is shutting down"));
  }
}
