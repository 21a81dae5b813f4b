// One Hrana stream of the test server (hrana-server.ts): its own connection to the database file
// on the real libSQL engine, so a transaction open on one baton is invisible to every other
// baton, as on sqld. A write that finds the database locked is retried asynchronously until
// `busyTimeoutMs`, so one stream waiting never blocks the event loop another stream's COMMIT
// needs.
import { createRequire } from "node:module";
import { setTimeout as sleep } from "node:timers/promises";
import type Libsql from "libsql";
import { type ParamInfo, statementParams } from "./hrana-params";
import {
  type Batch,
  type BatchCond,
  type BatchResult,
  type DescribeResult,
  HranaError,
  type ProtoError,
  type Stmt,
  type StmtResult,
  valueFromEngine,
  valueToEngine,
} from "./hrana-protocol";

const Database = createRequire(import.meta.url)("libsql") as typeof Libsql;
type Connection = InstanceType<typeof Libsql>;
/** The part of the engine's statement used here, with rest parameters for binding. */
interface Statement {
  readonly reader: boolean;
  raw(toggle?: boolean): Statement;
  run(...params: unknown[]): unknown;
  all(...params: unknown[]): unknown[];
  columns(): { name: string; type: string | null }[];
}
const prepare = (connection: Connection, sql: string) =>
  connection.prepare(sql) as unknown as Statement;

const TRANSACTION_CONTROL = /^\s*(BEGIN|COMMIT|END|ROLLBACK|SAVEPOINT|RELEASE)\b/i;
const NAMED = /^[:@$]?([A-Za-z_][A-Za-z0-9_]*)$/;

/** An engine error as Hrana's Error structure (the SQLite code, e.g. SQLITE_CONSTRAINT_PRIMARYKEY). */
export function protoError(error: unknown): ProtoError {
  if (error instanceof HranaError) return error.toProto();
  const code = (error as { code?: unknown }).code;
  return {
    message: error instanceof Error ? error.message : String(error),
    code: typeof code === "string" ? code : "SQLITE_ERROR",
  };
}

const isBusy = (error: unknown) =>
  typeof (error as { code?: unknown }).code === "string" &&
  (error as { code: string }).code.startsWith("SQLITE_BUSY");

/**
 * Says whether statements write, from their bytecode (the engine does not expose
 * sqlite3_stmt_readonly), for `describe`. A connection of its own: EXPLAIN on a stream's
 * connection can stop that connection's next run of the same statement from taking effect (seen
 * with libsql 0.5). So it sees committed tables only.
 */
export class StatementInspector {
  readonly #connection: Connection;

  constructor(path: string) {
    this.#connection = new Database(path, { timeout: 0 });
  }

  isReadonly(sql: string): boolean {
    if (/^\s*EXPLAIN\b/i.test(sql) || TRANSACTION_CONTROL.test(sql)) return true;
    const program = prepare(this.#connection, `EXPLAIN ${sql}`).raw(true).all() as unknown[][];
    // A Transaction opcode with P2 != 0 starts a write transaction.
    return !program.some((op) => op[1] === "Transaction" && Number(op[3]) !== 0);
  }

  close(): void {
    this.#connection.close();
  }
}

export class HranaStream {
  readonly #connection: Connection;
  readonly #busyTimeoutMs: number;
  readonly #inspector: StatementInspector;
  readonly #statements = new Map<string, Statement>();
  readonly #paramCache = new Map<string, ParamInfo>();
  readonly #sqls = new Map<number, string>();
  readonly #probe: Statement;
  #totalChanges = 0n;
  closed = false;

  constructor(options: { path: string; busyTimeoutMs: number; inspector: StatementInspector }) {
    this.#connection = new Database(options.path, { timeout: 0 });
    this.#connection.defaultSafeIntegers(true);
    this.#busyTimeoutMs = options.busyTimeoutMs;
    this.#inspector = options.inspector;
    this.#probe = prepare(
      this.#connection,
      "SELECT total_changes(), changes(), last_insert_rowid()",
    ).raw(true);
  }

  get isAutocommit(): boolean {
    return !this.#connection.inTransaction;
  }

  storeSql(id: number, sql: string): void {
    if (this.#sqls.has(id)) throw new HranaError("SQL_ID_IN_USE", `sql_id ${id} is already stored`);
    this.#sqls.set(id, sql);
  }

  closeSql(id: number): void {
    this.#sqls.delete(id);
  }

  #sql(ref: { sql?: string | null | undefined; sql_id?: number | null | undefined }): string {
    const hasSql = ref.sql !== undefined && ref.sql !== null;
    const hasId = ref.sql_id !== undefined && ref.sql_id !== null;
    if (hasSql === hasId) {
      throw new HranaError("SQL_ID_INVALID", "exactly one of sql and sql_id must be given");
    }
    if (hasSql) return ref.sql!;
    const sql = this.#sqls.get(ref.sql_id!);
    if (sql === undefined)
      throw new HranaError("SQL_ID_INVALID", `sql_id ${ref.sql_id} is not stored`);
    return sql;
  }

  /** Runs `work` again while the database is locked by another connection, up to the timeout. */
  async #whileBusy<T>(work: () => T): Promise<T> {
    const deadline = Date.now() + this.#busyTimeoutMs;
    for (let delayMs = 1; ; delayMs = Math.min(delayMs * 2, 50)) {
      try {
        return work();
      } catch (error) {
        if (!isBusy(error) || Date.now() + delayMs > deadline) throw error;
      }
      await sleep(delayMs * (0.5 + Math.random()));
    }
  }

  #params(sql: string): ParamInfo {
    let info = this.#paramCache.get(sql);
    if (info === undefined) {
      info = statementParams(sql);
      if (this.#paramCache.size >= 1000) this.#paramCache.clear();
      this.#paramCache.set(sql, info);
    }
    return info;
  }

  #prepare(sql: string): Statement {
    let statement = this.#statements.get(sql);
    if (statement === undefined) {
      statement = prepare(this.#connection, sql);
      if (this.#statements.size >= 1000) this.#statements.clear();
      this.#statements.set(sql, statement);
    }
    return statement;
  }

  /** The statement's arguments as the engine binds them; refuses missing and unexpected ones. */
  #bind(sql: string, stmt: Stmt): unknown[] {
    const args = stmt.args ?? [];
    const named = stmt.named_args ?? [];
    const info = this.#params(sql);
    if (named.length === 0) {
      if (args.length > info.count) {
        throw new HranaError(
          "ARGS_INVALID",
          `the statement takes ${info.count} argument(s), got ${args.length}`,
        );
      }
      const missing = [...info.names.keys()].find((index) => index > args.length);
      if (missing !== undefined) {
        throw new HranaError("ARGS_INVALID", `argument ${missing} of the statement is missing`);
      }
      return args.map(valueToEngine);
    }
    if (args.length > 0) {
      throw new HranaError(
        "ARGS_INVALID",
        "this server binds positional or named arguments, not both in one statement",
      );
    }
    const wanted = new Map<string, number>();
    for (const [index, name] of info.names) {
      const bare = name === null ? null : NAMED.exec(name)?.[1];
      if (bare === undefined || bare === null) {
        throw new HranaError("ARGS_INVALID", `parameter ${index} has no name to bind it by`);
      }
      wanted.set(bare, index);
    }
    const values: Record<string, unknown> = {};
    for (const arg of named) {
      const bare = NAMED.exec(arg.name)?.[1];
      if (bare === undefined || !wanted.has(bare)) {
        throw new HranaError("ARGS_INVALID", `the statement has no parameter ${arg.name}`);
      }
      values[bare] = valueToEngine(arg.value);
    }
    const missing = [...wanted.keys()].find((name) => !(name in values));
    if (missing !== undefined) {
      throw new HranaError("ARGS_INVALID", `argument :${missing} of the statement is missing`);
    }
    return [values];
  }

  async execute(stmt: Stmt): Promise<StmtResult> {
    const sql = this.#sql(stmt);
    const started = performance.now();
    return this.#whileBusy(() => {
      const statement = this.#prepare(sql);
      const bound = this.#bind(sql, stmt);
      let rows: unknown[][] = [];
      if (statement.reader) rows = statement.raw(true).all(...bound) as unknown[][];
      else statement.run(...bound);
      const [total, changes, rowid] = this.#probe.all()[0] as bigint[];
      const wrote = total !== this.#totalChanges;
      this.#totalChanges = total!;
      return {
        cols: statement.reader
          ? statement.columns().map((col) => ({ name: col.name, decltype: col.type }))
          : [],
        rows: stmt.want_rows === false ? [] : rows.map((row) => row.map(valueFromEngine)),
        affected_row_count: wrote ? Number(changes) : 0,
        last_insert_rowid: rowid === 0n ? null : String(rowid),
        rows_read: 0,
        rows_written: 0,
        query_duration_ms: performance.now() - started,
      };
    });
  }

  async batch(batch: Batch): Promise<BatchResult> {
    const result: BatchResult = { step_results: [], step_errors: [] };
    for (const [index, step] of batch.steps.entries()) {
      const run = step.condition ? this.#holds(step.condition, result, index) : true;
      if (!run) {
        result.step_results.push(null);
        result.step_errors.push(null);
        continue;
      }
      try {
        result.step_results.push(await this.execute(step.stmt));
        result.step_errors.push(null);
      } catch (error) {
        result.step_results.push(null);
        result.step_errors.push(protoError(error));
      }
    }
    return result;
  }

  #holds(cond: BatchCond, result: BatchResult, current: number): boolean {
    switch (cond.type) {
      case "ok":
      case "error":
        if (cond.step >= current) {
          throw new HranaError(
            "BATCH_COND_INVALID",
            `step ${current}'s condition refers to step ${cond.step}, which has not run`,
          );
        }
        return cond.type === "ok"
          ? result.step_results[cond.step] !== null
          : result.step_errors[cond.step] !== null;
      case "not":
        return !this.#holds(cond.cond, result, current);
      case "and":
        return cond.conds.every((c) => this.#holds(c, result, current));
      case "or":
        return cond.conds.some((c) => this.#holds(c, result, current));
      case "is_autocommit":
        return this.isAutocommit;
    }
  }

  /** Runs `;`-separated statements. Not retried when locked: the ones before might have run. */
  sequence(ref: { sql?: string | null; sql_id?: number | null }): void {
    this.#connection.exec(this.#sql(ref));
  }

  describe(ref: { sql?: string | null; sql_id?: number | null }): DescribeResult {
    const sql = this.#sql(ref);
    const statement = this.#prepare(sql);
    const info = this.#params(sql);
    return {
      params: Array.from({ length: info.count }, (_, i) => ({
        name: info.names.get(i + 1) ?? null,
      })),
      cols: statement.reader
        ? statement.columns().map((col) => ({ name: col.name, decltype: col.type }))
        : [],
      is_explain: /^\s*EXPLAIN\b/i.test(sql),
      is_readonly: this.#inspector.isReadonly(sql),
    };
  }

  /** Closes the connection; an open transaction is rolled back. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.#connection.close();
  }
}
