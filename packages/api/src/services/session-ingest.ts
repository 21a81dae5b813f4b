import { type Database, WriteThread } from "@edgesocks/db";
import { addressKey } from "@edgesocks/socks/address";
import type { ControlMetrics } from "../metrics";
import type { SessionRecord } from "../wire";
import { SessionRollupJob, type SessionRollupJobOptions } from "./session-rollup-job";

/** The relay a batch came from (from its node token, never from the records). */
export interface IngestSource {
  nodeId: number;
  node: string;
  region: string;
}

export interface SessionIngestOptions {
  database: Database;
  metrics: ControlMetrics;
  /** Most rows one commit takes; batches past it wait for the next commit. @default 50000 */
  maxRowsPerCommit?: number;
  /**
   * How long queued batches wait for the next one before they are committed, in ms: a commit
   * costs mostly per database page it touches, and batches from many relays share most pages,
   * so fewer, larger commits take more rows per second. Batches that arrive while a commit runs
   * share the next one anyway; a long linger only leaves the write thread idle while the next
   * batches are parsed (20 ms measured 28k rows/s, 2 ms 42k). @default 2
   */
  commitLingerMs?: number;
  /** Longest a batch waits for others to share its commit, in ms. @default 200 */
  commitMaxWaitMs?: number;
  /** Rows queued that start a commit without waiting. @default 6000 */
  commitTargetRows?: number;
  /** When the rollup passes run (see SessionRollupJob). */
  rollups?: Omit<SessionRollupJobOptions, "database" | "thread">;
}

interface Pending {
  /** The batch's rows as JSON arrays in COLUMNS order, joined by commas. */
  json: string;
  /** True when `json` holds hexRow() rows (its plain JSON had escapes). */
  hex: boolean;
  arrivedMs: number;
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
  "count",
  "destination_country",
  "client_country",
  "route",
] as const;

/** The free-text columns: the ones a batch whose JSON needs escapes sends hex-encoded. */
const TEXT_COLUMNS = new Set<string>([
  "node",
  "region",
  "user",
  "client_address",
  "destination_host",
  "destination_address",
  "rule_id",
  "close_reason",
  "route",
]);
const TEXT_INDEXES = COLUMNS.flatMap((column, i) => (TEXT_COLUMNS.has(column) ? [i] : []));

const insertSql = (value: (column: string, i: number) => string) =>
  `INSERT INTO sessions (${COLUMNS.join(",")}) WITH r AS MATERIALIZED (SELECT jsonb(value) AS j FROM json_each(?)) SELECT ${COLUMNS.map(value).join(",")} FROM r WHERE true ON CONFLICT(id) DO NOTHING`;

/**
 * Rows travel as one JSON array parameter, unpacked by SQLite's json_each: binding thousands of
 * separate parameters costs more than the inserts themselves in the libSQL driver. Each row is
 * parsed once into JSONB (the MATERIALIZED CTE); `value ->> i` on the text would parse it again
 * for every column. (`WHERE true` is how SQLite's grammar tells an upsert's ON CONFLICT from a
 * join constraint.)
 *
 * Only for a JSON text without a backslash, i.e. without escapes: SQLite's JSON functions decode
 * an escape such as `\ud800` into bytes that are not UTF-8, and the libSQL driver aborts the
 * process when it reads them back. Without escapes the strings are stored as the driver encoded
 * them, which is always valid UTF-8. Rows whose JSON has escapes use SESSION_HEX_ROWS_INSERT_SQL.
 */
export const SESSION_ROWS_INSERT_SQL = insertSql((_, i) => `j ->> ${i}`);

/** SESSION_ROWS_INSERT_SQL for rows from hexRow(): text arrives as hex of its UTF-8. */
export const SESSION_HEX_ROWS_INSERT_SQL = insertSql((column, i) =>
  TEXT_COLUMNS.has(column) ? `CAST(unhex(j ->> ${i}) AS TEXT)` : `j ->> ${i}`,
);

/** Room for the UTF-8 of a text field: UTF-8 takes at most 3 bytes per UTF-16 code unit. */
const scratch = Buffer.allocUnsafe(16_384);

function hexText(value: string): string {
  // Buffer's encoder never produces invalid UTF-8 (a lone surrogate becomes U+FFFD).
  if (value.length * 3 > scratch.length) return Buffer.from(value, "utf8").toString("hex");
  return scratch.toString("hex", 0, scratch.write(value, 0, "utf8"));
}

/** A row of sessionRow() with its text columns as hex, for SESSION_HEX_ROWS_INSERT_SQL. */
export function hexRow(row: unknown[]): unknown[] {
  const out = row.slice();
  for (const i of TEXT_INDEXES) if (typeof out[i] === "string") out[i] = hexText(out[i] as string);
  return out;
}

/**
 * Runs right after each INSERT of a commit, in the same transaction: how many rows it inserted and, only when
 * that is fewer than it was given, which ids. A new row gets seq max(seq) + 1, so one INSERT's
 * rows are the seq range ending at last_insert_rowid(); RETURNING would send every id back.
 */
const INSERTED_SQL =
  "SELECT changes(), CASE WHEN changes() = ? THEN NULL ELSE (SELECT json_group_array(id) FROM sessions WHERE seq > last_insert_rowid() - changes() AND seq <= last_insert_rowid()) END";

/** One record as a row of SESSION_ROWS_INSERT_SQL's JSON parameter (ingest and the bench seed). */
export function sessionRow(record: SessionRecord, source: IngestSource, nowMs: number): unknown[] {
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
    record.count ?? 1,
    // Two capitals (the wire schema's CountryCode): never an escape, so not a text column here.
    record.destinationCountry ?? null,
    record.clientCountry ?? null,
    record.route ?? null,
  ];
}

/**
 * Idempotent, batched session ingest. Batches from several relays that arrive while a commit is
 * running are committed together in the next one (one transaction, one multi-row INSERT with
 * `ON CONFLICT(id) DO NOTHING`), and each caller learns how many of its own records were new. A
 * retried batch therefore never duplicates a row and gets exact counts. Commits run on the
 * database's write thread, so the event loop keeps parsing the next batches meanwhile; stats
 * rollups are brought up to date by SessionRollupJob between commits.
 */
export class SessionIngest {
  readonly #database: Database;
  readonly #metrics: ControlMetrics;
  readonly #maxRowsPerCommit: number;
  readonly #thread: WriteThread;
  readonly #rollups: SessionRollupJob;
  readonly #lingerMs: number;
  readonly #maxWaitMs: number;
  readonly #targetRows: number;
  #pending: Pending[] = [];
  #pendingRows = 0;
  /** When the newest queued batch arrived. */
  #lastArrivalMs = 0;
  #scheduled = false;
  #lingerTimer: NodeJS.Timeout | null = null;

  constructor(options: SessionIngestOptions) {
    this.#database = options.database;
    this.#metrics = options.metrics;
    this.#maxRowsPerCommit = options.maxRowsPerCommit ?? 50_000;
    this.#lingerMs = options.commitLingerMs ?? 2;
    this.#maxWaitMs = options.commitMaxWaitMs ?? 200;
    this.#targetRows = options.commitTargetRows ?? 6_000;
    this.#thread = new WriteThread({ database: options.database });
    this.#rollups = new SessionRollupJob({
      ...options.rollups,
      database: options.database,
      thread: this.#thread,
    });
  }

  /** The rollup passes that keep stats.summary's pre-aggregates current. */
  get rollups(): SessionRollupJob {
    return this.#rollups;
  }

  ingest(
    source: IngestSource,
    records: readonly SessionRecord[],
  ): Promise<{ inserted: number; duplicates: number }> {
    const nowMs = Date.now();
    const rows = records.map((record) => sessionRow(record, source, nowMs));
    let json = JSON.stringify(rows).slice(1, -1);
    // Escapes are rare (a quote or backslash in some text): only such batches pay for hex.
    const hex = json.includes("\\");
    if (hex) json = JSON.stringify(rows.map(hexRow)).slice(1, -1);
    this.#rollups.busy();
    return new Promise((resolve, reject) => {
      const arrivedMs = performance.now();
      this.#pending.push({ json, hex, arrivedMs, ids: records.map((r) => r.id), resolve, reject });
      this.#pendingRows += records.length;
      this.#lastArrivalMs = arrivedMs;
      this.#schedule();
    });
  }

  /** Commits once `commitTargetRows` are queued, or no batch came for `commitLingerMs`. */
  #schedule(): void {
    if (this.#scheduled || this.#pending.length === 0) return;
    if (this.#lingerTimer !== null) {
      clearTimeout(this.#lingerTimer);
      this.#lingerTimer = null;
    }
    if (this.#pendingRows < this.#targetRows) {
      const waitMs =
        Math.min(
          this.#lastArrivalMs + this.#lingerMs,
          this.#pending[0]!.arrivedMs + this.#maxWaitMs,
        ) - performance.now();
      if (waitMs > 0) {
        this.#lingerTimer = setTimeout(() => {
          this.#lingerTimer = null;
          this.#schedule();
        }, waitMs);
        return;
      }
    }
    this.#scheduled = true;
    this.#database.writes
      .run(() => this.#commit())
      .catch((error: unknown) => {
        // #commit() settles its callers itself; this is the queue refusing the commit.
        this.#scheduled = false;
        const refused = this.#pending;
        this.#pending = [];
        this.#pendingRows = 0;
        for (const pending of refused) pending.reject(error);
      });
  }

  async #commit(): Promise<void> {
    try {
      await this.#commitPending();
    } finally {
      // Batches that arrived meanwhile go in the next commit, after the linger.
      this.#scheduled = false;
      this.#schedule();
      if (this.#pending.length === 0) this.#rollups.quiet();
    }
  }

  async #commitPending(): Promise<void> {
    const taken: Pending[] = [];
    let rowCount = 0;
    while (this.#pending.length > 0) {
      const next = this.#pending[0]!;
      if (taken.length > 0 && rowCount + next.ids.length > this.#maxRowsPerCommit) break;
      taken.push(this.#pending.shift()!);
      rowCount += next.ids.length;
    }
    this.#pendingRows -= rowCount;
    if (taken.length === 0) return;
    try {
      // Plain and hex rows need different INSERTs: one of each at most, in one transaction.
      const groups = [taken.filter((p) => !p.hex), taken.filter((p) => p.hex)].filter(
        (group) => group.length > 0,
      );
      const results = await this.#thread.batch(
        groups.flatMap((group) => [
          {
            sql: group[0]!.hex ? SESSION_HEX_ROWS_INSERT_SQL : SESSION_ROWS_INSERT_SQL,
            args: [
              `[${group
                .map((p) => p.json)
                .filter((part) => part !== "")
                .join(",")}]`,
            ],
          },
          { sql: INSERTED_SQL, args: [group.reduce((rows, p) => rows + p.ids.length, 0)] },
        ]),
      );
      let changes = 0;
      this.#metrics.ingestBatchesTotal.inc();
      groups.forEach((group, g) => {
        const [groupChanges, idsJson] = results[2 * g + 1]!.rows[0]! as [number, string | null];
        changes += groupChanges;
        // null: every row was new; else the ids that were.
        const inserted = idsJson === null ? null : new Set(JSON.parse(idsJson) as string[]);
        for (const pending of group) {
          let count = pending.ids.length;
          if (inserted !== null) {
            count = 0;
            // Claim each new id once: a retry queued in the same commit counts as a duplicate.
            for (const id of pending.ids) if (inserted.delete(id)) count += 1;
          }
          const duplicates = pending.ids.length - count;
          this.#metrics.ingestRowsTotal.inc({ result: "inserted" }, count);
          if (duplicates > 0) {
            this.#metrics.ingestRowsTotal.inc({ result: "duplicate" }, duplicates);
          }
          pending.resolve({ inserted: count, duplicates });
        }
      });
      if (changes > 0) this.#rollups.added(changes);
    } catch (error) {
      for (const pending of taken) pending.reject(error);
    }
  }

  /**
   * Fails every batch still waiting (on shutdown) and stops the rollup passes and the thread;
   * resolves once the thread has stopped, so an exit never kills it inside SQLite.
   */
  async close(): Promise<void> {
    const pending = this.#pending;
    this.#pending = [];
    this.#pendingRows = 0;
    if (this.#lingerTimer !== null) clearTimeout(this.#lingerTimer);
    for (const p of pending) p.reject(new Error("the control plane is shutting down"));
    this.#rollups.close();
    // Commits already queued finish first (the database drains its write queue on close).
    await this.#database.writes.drain();
    await this.#thread.close();
  }
}
