import { Worker } from "node:worker_threads";
import type { Database } from "@edgesocks/db";
import type { InValue } from "@libsql/client";

export interface StatsQuery {
  sql: string;
  args: InValue[];
}

/** One read transaction: every statement sees the same snapshot of the database. */
export interface ReadTransaction {
  /** The first row of the result, as an array (stats queries return one row of JSON). */
  execute(query: StatsQuery): Promise<unknown[]>;
  close(): void;
}

interface Waiter {
  resolve: (row: unknown[]) => void;
  reject: (error: unknown) => void;
}

type Reply =
  | { id: number; row: unknown[] | null }
  | { id: number; error: { message: string; code?: string } };

/**
 * Page cache of each of the thread's connections, in KiB. A summary with a `user` filter reads
 * that user's rows all over the sessions table; SQLite's default 2 MiB cache re-reads them from
 * the OS on every call (a quarter of that summary's time for the busiest user).
 */
const CACHE_KIB = 65_536;

/** How long the thread stays up without a transaction before it exits, in ms. */
const IDLE_EXIT_MS = 30_000;

/** `file:` URLs of a database on disk; an in-memory database exists only on its own connection. */
function onDisk(url: string): boolean {
  return url.startsWith("file:") && !url.includes(":memory:") && !url.includes("mode=memory");
}

/**
 * Runs stats.summary's read transactions on a worker thread with its own connection when the
 * database is a file: the embedded driver executes each statement synchronously, so a summary
 * over a busy window would otherwise hold the event loop (and every relay's heartbeat and ingest
 * with it) for as long as its statements take. Remote databases do that work on the server, so
 * their transactions go through the database's client. The thread exits after a quiet spell.
 */
export class StatsReadThread {
  readonly #database: Database;
  readonly #pending = new Map<number, Waiter>();
  #worker: Worker | null = null;
  #nextId = 1;
  #open = 0;
  #idleTimer: NodeJS.Timeout | null = null;

  constructor(database: Database) {
    this.#database = database;
  }

  async transaction(): Promise<ReadTransaction> {
    if (!onDisk(this.#database.url)) {
      const tx = await this.#database.client.transaction("read");
      return {
        execute: async (query) => Array.from((await tx.execute(query)).rows[0] ?? []),
        close: () => tx.close(),
      };
    }
    const txId = this.#nextId++;
    this.#open += 1;
    if (this.#idleTimer !== null) clearTimeout(this.#idleTimer);
    this.#idleTimer = null;
    let ended = false;
    const end = () => {
      if (ended) return;
      ended = true;
      this.#worker?.postMessage({ type: "end", tx: txId });
      this.#open -= 1;
      if (this.#open === 0) this.#idleTimer = setTimeout(() => this.#stop(), IDLE_EXIT_MS).unref();
    };
    try {
      await this.#send({ type: "begin", tx: txId });
    } catch (error) {
      end();
      throw error;
    }
    return {
      execute: async (query) => (await this.#send({ type: "execute", tx: txId, query })) ?? [],
      close: end,
    };
  }

  #send(message: Record<string, unknown>): Promise<unknown[]> {
    const worker = this.#start();
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      if (this.#pending.size === 1) worker.ref(); // an answer is due: keep the process up for it
      worker.postMessage({ ...message, id });
    });
  }

  #start(): Worker {
    if (this.#worker !== null) return this.#worker;
    const worker = new Worker(new URL("./stats-read-thread-worker.mjs", import.meta.url), {
      workerData: { url: this.#database.url, busyTimeoutMs: 5000, cacheKiB: CACHE_KIB },
    });
    worker.unref();
    worker.on("message", (reply: Reply) => {
      const waiter = this.#pending.get(reply.id);
      if (waiter === undefined) return;
      this.#pending.delete(reply.id);
      if (this.#pending.size === 0) worker.unref();
      if ("error" in reply) {
        waiter.reject(Object.assign(new Error(reply.error.message), { code: reply.error.code }));
      } else waiter.resolve(reply.row ?? []);
    });
    const fail = (cause: unknown) => {
      if (this.#worker === worker) this.#worker = null; // the next call starts a new thread
      const error = new Error(`the stats read thread stopped: ${String(cause)}`, { cause });
      for (const waiter of this.#pending.values()) waiter.reject(error);
      this.#pending.clear();
    };
    worker.on("error", fail);
    worker.on("exit", (code) => fail(`exit code ${code}`));
    this.#worker = worker;
    return worker;
  }

  #stop(): void {
    this.#idleTimer = null;
    if (this.#open > 0 || this.#pending.size > 0) return;
    const worker = this.#worker;
    this.#worker = null;
    worker?.postMessage({ type: "close" });
  }
}
