import { once } from "node:events";
import { Worker } from "node:worker_threads";
import type { InStatement } from "@libsql/client";
import type { Database } from "./client";
import { DbError } from "./errors";

/** What one statement of a write batch returned. */
export interface WriteBatchResult {
  rows: unknown[][];
  rowsAffected: number;
}

export interface WriteThreadOptions {
  database: Database;
  /** Page cache of the thread's connection, in KiB. @default 65536 */
  cacheKiB?: number;
  /** How long the thread's connection waits for another writer's lock, in ms. @default 5000 */
  busyTimeoutMs?: number;
}

interface Waiter {
  resolve: (results: WriteBatchResult[]) => void;
  reject: (error: unknown) => void;
}

type Reply =
  | { id: number; results: WriteBatchResult[] }
  | { id: number; error: { message: string; code?: string; rawCode?: number } };

/** `file:` URLs of a database on disk; an in-memory database exists only on its own connection. */
function onDisk(url: string): boolean {
  return url.startsWith("file:") && !url.includes(":memory:") && !url.includes("mode=memory");
}

/**
 * Runs large write batches (one transaction each) off the event loop. For a database on disk a
 * worker thread with its own connection runs them, so the statements and the commit's fsync do
 * not stall request handling; for remote URLs (Turso, sqld) the server does that work and batches
 * go through the database's client as one Hrana pipeline each (a worker thread over HTTP was
 * measured with bench/control-bench.ts --database http and gained nothing). Callers still go
 * through `database.writes`: this moves where a write runs, not how many run at once.
 */
export class WriteThread {
  readonly #database: Database;
  readonly #pragmas: string[];
  readonly #busyTimeoutMs: number;
  readonly #pending = new Map<number, Waiter>();
  #worker: Worker | null = null;
  #nextId = 1;
  #closed = false;

  constructor(options: WriteThreadOptions) {
    this.#database = options.database;
    this.#busyTimeoutMs = options.busyTimeoutMs ?? 5000;
    this.#pragmas = [
      `PRAGMA cache_size = -${Math.trunc(options.cacheKiB ?? 65_536)}`,
      // Checkpoint every 10,000 pages (80 MiB of WAL) rather than 1,000: each commit of ingest
      // changes a few thousand pages, so the default checkpointed nearly every commit. Durability
      // is the commit's fsync of the WAL, which this does not change.
      "PRAGMA wal_autocheckpoint = 10000",
    ];
  }

  /** Runs `statements` in one write transaction; rows come back as arrays. */
  batch(statements: InStatement[]): Promise<WriteBatchResult[]> {
    if (this.#closed) {
      return Promise.reject(new DbError("DB_E_QUEUE_CLOSED", "the database is closing"));
    }
    if (!onDisk(this.#database.url)) {
      return this.#database.client.batch(statements, "write").then((results) =>
        results.map((result) => ({
          rows: result.rows.map((row) => Array.from(row) as unknown[]),
          rowsAffected: result.rowsAffected,
        })),
      );
    }
    const worker = this.#start();
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      if (this.#pending.size === 1) worker.ref(); // an answer is due: keep the process up for it
      worker.postMessage({ type: "batch", id, statements });
    });
  }

  #start(): Worker {
    if (this.#worker !== null) return this.#worker;
    const worker = new Worker(new URL("./write-thread-worker.mjs", import.meta.url), {
      workerData: {
        url: this.#database.url,
        busyTimeoutMs: this.#busyTimeoutMs,
        pragmas: this.#pragmas,
      },
    });
    worker.unref();
    worker.on("message", (reply: Reply) => {
      const waiter = this.#pending.get(reply.id);
      if (waiter === undefined) return;
      this.#pending.delete(reply.id);
      if (this.#pending.size === 0) worker.unref();
      if ("results" in reply) waiter.resolve(reply.results);
      else
        waiter.reject(
          Object.assign(new Error(reply.error.message), {
            code: reply.error.code,
            rawCode: reply.error.rawCode,
          }),
        );
    });
    const fail = (cause: unknown) => {
      if (this.#worker === worker) this.#worker = null; // the next batch starts a new thread
      const error = new DbError("DB_E_WRITE_THREAD", `the write thread stopped: ${String(cause)}`, {
        cause,
      });
      for (const waiter of this.#pending.values()) waiter.reject(error);
      this.#pending.clear();
    };
    worker.on("error", fail);
    worker.on("exit", (code) => fail(`exit code ${code}`));
    this.#worker = worker;
    return worker;
  }

  /** Refuses new batches, lets the running ones finish and stops the thread. */
  async close(): Promise<void> {
    this.#closed = true;
    const worker = this.#worker;
    if (worker === null) return;
    await Promise.allSettled(
      [...this.#pending.values()].map(
        (waiter) =>
          new Promise<void>((resolve) => {
            const { resolve: done, reject } = waiter;
            waiter.resolve = (results) => {
              done(results);
              resolve();
            };
            waiter.reject = (error) => {
              reject(error);
              resolve();
            };
          }),
      ),
    );
    this.#worker = null;
    const exited = once(worker, "exit");
    worker.postMessage({ type: "close" });
    const timer = setTimeout(() => void worker.terminate(), 1000);
    await exited;
    clearTimeout(timer);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
