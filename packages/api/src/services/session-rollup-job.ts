import {
  type Database,
  DEFAULT_ROLLUP_PASS_ROWS,
  rollupBacklog,
  rollupPassStatements,
  type WriteThread,
} from "@edgesocks/db";

export interface SessionRollupJobOptions {
  database: Database;
  /** Where the passes run (the ingest's write thread). */
  thread: WriteThread;
  /** Quiet time (no batch queued) before a pass runs, in ms. @default 500 */
  idleMs?: number;
  /** Longest ingest may stay ahead of the rollups while it never goes quiet, in ms. @default 10000 */
  maxDelayMs?: number;
  /** Session rows (seq range) one pass takes at most; passes are separate writes. @default 100000 */
  passRows?: number;
  /** How often the backlog is looked for without ingest here (other instances, a migrated database), in ms. @default 5000 */
  pollIntervalMs?: number;
}

/**
 * Keeps session_rollups current: counts the sessions past the rollup cursor, in passes through
 * the write queue. Ingest does not wait for it; a pass runs once ingest is quiet for `idleMs`,
 * or at the latest `maxDelayMs` after the first uncounted commit, so one pass takes many commits
 * (fewer, larger upserts). Readers stay exact meanwhile: they add sessions past the cursor from
 * the sessions table, which costs them time in proportion to the backlog this bounds.
 */
export class SessionRollupJob {
  readonly #database: Database;
  readonly #thread: WriteThread;
  readonly #idleMs: number;
  readonly #maxDelayMs: number;
  readonly #passRows: number;
  readonly #pollTimer: NodeJS.Timeout;
  #idleTimer: NodeJS.Timeout | null = null;
  #firstUncountedAtMs: number | null = null;
  #running: Promise<void> | null = null;
  /** A trigger arrived while passes were running: look again when they are done. */
  #again = false;
  #closed = false;
  /** Passes that failed (they are retried on the next trigger); the last error. */
  failures = 0;
  lastError: unknown = null;

  constructor(options: SessionRollupJobOptions) {
    this.#database = options.database;
    this.#thread = options.thread;
    this.#idleMs = options.idleMs ?? 500;
    this.#maxDelayMs = options.maxDelayMs ?? 10_000;
    this.#passRows = options.passRows ?? DEFAULT_ROLLUP_PASS_ROWS;
    this.#pollTimer = setInterval(() => this.#poll(), options.pollIntervalMs ?? 5000);
    this.#pollTimer.unref();
  }

  /** Ingest committed `rows` new sessions. */
  added(rows: number): void {
    if (this.#closed || rows <= 0) return;
    const nowMs = Date.now();
    this.#firstUncountedAtMs ??= nowMs;
    if (nowMs - this.#firstUncountedAtMs >= this.#maxDelayMs) void this.#start();
  }

  /** Ingest has nothing queued: a pass runs unless more arrives within `idleMs`. */
  quiet(): void {
    if (this.#closed || this.#firstUncountedAtMs === null) return;
    if (this.#idleTimer !== null) clearTimeout(this.#idleTimer);
    this.#idleTimer = setTimeout(() => void this.#start(), this.#idleMs);
    this.#idleTimer.unref();
  }

  /** Ingest has a batch queued: it is not quiet. */
  busy(): void {
    if (this.#idleTimer === null) return;
    clearTimeout(this.#idleTimer);
    this.#idleTimer = null;
  }

  /** Runs passes until every session committed so far is counted. */
  async flush(): Promise<void> {
    while (!this.#closed) {
      await this.#start();
      if ((await rollupBacklog(this.#database)) <= 0) return;
    }
  }

  #poll(): void {
    // Sessions committed here are counted by the idle and delay triggers above.
    if (this.#running !== null || this.#closed || this.#firstUncountedAtMs !== null) return;
    rollupBacklog(this.#database).then(
      (backlog) => {
        if (backlog > 0) void this.#start();
      },
      (error: unknown) => this.#failed(error),
    );
  }

  #start(): Promise<void> {
    if (this.#idleTimer !== null) clearTimeout(this.#idleTimer);
    this.#idleTimer = null;
    if (this.#running !== null) {
      this.#again = true;
      return this.#running;
    }
    this.#running = this.#passes().finally(() => {
      this.#running = null;
    });
    return this.#running;
  }

  async #passes(): Promise<void> {
    do {
      this.#again = false;
      this.#firstUncountedAtMs = null;
      // Each pass is its own write, so ingest commits queued meanwhile go in between.
      for (let backlog = 1; backlog > 0 && !this.#closed; ) {
        try {
          const results = await this.#database.writes.run(() =>
            this.#thread.batch(rollupPassStatements(this.#passRows)),
          );
          backlog = Number(results.at(-1)?.rows[0]?.[0] ?? 0);
        } catch (error) {
          this.#failed(error);
          return;
        }
      }
    } while (this.#again && !this.#closed);
  }

  #failed(error: unknown): void {
    this.failures += 1;
    this.lastError = error;
  }

  /** Stops the timers; a pass already queued still runs. */
  close(): void {
    this.#closed = true;
    clearInterval(this.#pollTimer);
    if (this.#idleTimer !== null) clearTimeout(this.#idleTimer);
  }
}
