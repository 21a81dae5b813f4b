import type { Database } from "@edgesocks/db";
import { snapshots } from "@edgesocks/db/schema";
import type { Logger } from "@edgesocks/telemetry";
import { desc, eq } from "drizzle-orm";
import type { ControlMetrics } from "../metrics";
import { type PublishedSnapshot, rowToPublished } from "./policy-service";

export interface SnapshotHubOptions {
  database: Database;
  logger: Logger;
  metrics: ControlMetrics;
  /** Quiet time after a publish before subscribers are woken; a burst pushes only its newest version. @default 100 */
  debounceMs?: number;
  /** Longest a steady stream of publishes can hold a push back, in ms. @default 1000 */
  maxDebounceMs?: number;
  /** How often the newest version is read, to see versions other instances made, in ms. @default 1000 */
  pollIntervalMs?: number;
}

/**
 * This instance's view of the newest snapshot, and the wake-up for config.watch subscribers.
 * Versions come from this instance's PolicyService and, through a cheap poll of the newest
 * version number, from other instances on the same database.
 */
export class SnapshotHub {
  readonly #database: Database;
  readonly #logger: Logger;
  readonly #metrics: ControlMetrics;
  readonly #debounceMs: number;
  readonly #maxDebounceMs: number;
  readonly #pollIntervalMs: number;
  /** What subscribers are told about. */
  #current: PublishedSnapshot | null = null;
  /** Newest known, possibly still inside the debounce window. */
  #newest: PublishedSnapshot | null = null;
  #generation = 0;
  #waiters = new Set<() => void>();
  #debounceTimer: NodeJS.Timeout | null = null;
  #debounceStartedMs = 0;
  #pollTimer: NodeJS.Timeout | null = null;
  #polling = false;

  constructor(options: SnapshotHubOptions) {
    this.#database = options.database;
    this.#logger = options.logger;
    this.#metrics = options.metrics;
    this.#debounceMs = options.debounceMs ?? 100;
    this.#maxDebounceMs = options.maxDebounceMs ?? 1000;
    this.#pollIntervalMs = options.pollIntervalMs ?? 1000;
  }

  /** Loads the newest snapshot and starts polling. */
  async start(): Promise<void> {
    await this.poll();
    this.#flush();
    this.#pollTimer = setInterval(() => void this.poll(), this.#pollIntervalMs);
    this.#pollTimer.unref();
  }

  /** The snapshot subscribers should hold now (null before the first one exists). */
  current(): PublishedSnapshot | null {
    return this.#current;
  }

  /** A counter that moves whenever current() changes; pass it to waitForChange(). */
  generation(): number {
    return this.#generation;
  }

  /** Records a version (made here or seen by the poll); subscribers hear of it after the debounce. */
  published(snapshot: PublishedSnapshot): void {
    if (this.#newest !== null && snapshot.version <= this.#newest.version) return;
    this.#newest = snapshot;
    this.#metrics.snapshotVersion.set(snapshot.version);
    const nowMs = Date.now();
    if (this.#debounceTimer === null) this.#debounceStartedMs = nowMs;
    else clearTimeout(this.#debounceTimer);
    const waitMs = Math.max(
      0,
      Math.min(this.#debounceMs, this.#debounceStartedMs + this.#maxDebounceMs - nowMs),
    );
    this.#debounceTimer = setTimeout(() => this.#flush(), waitMs);
  }

  #flush(): void {
    if (this.#debounceTimer !== null) clearTimeout(this.#debounceTimer);
    this.#debounceTimer = null;
    if (this.#newest === null || this.#newest === this.#current) return;
    this.#current = this.#newest;
    this.#generation += 1;
    const waiters = this.#waiters;
    this.#waiters = new Set();
    for (const wake of waiters) wake();
  }

  /** Resolves once current() has changed since `generation`, or when `signal` aborts. */
  waitForChange(generation: number, signal: AbortSignal): Promise<void> {
    if (generation !== this.#generation || signal.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const wake = () => {
        signal.removeEventListener("abort", wake);
        this.#waiters.delete(wake);
        resolve();
      };
      this.#waiters.add(wake);
      signal.addEventListener("abort", wake, { once: true });
    });
  }

  /** Reads the newest version number; loads the snapshot only when it is new to this instance. */
  async poll(): Promise<void> {
    if (this.#polling) return;
    this.#polling = true;
    try {
      const { db } = this.#database;
      const top = await db
        .select({ version: snapshots.version })
        .from(snapshots)
        .orderBy(desc(snapshots.version))
        .limit(1)
        .get();
      if (top === undefined || (this.#newest !== null && top.version <= this.#newest.version)) {
        return;
      }
      const row = await db.select().from(snapshots).where(eq(snapshots.version, top.version)).get();
      if (row !== undefined) this.published(rowToPublished(row));
    } catch (error) {
      this.#logger.warn({ err: String(error) }, "polling the newest snapshot version failed");
    } finally {
      this.#polling = false;
    }
  }

  close(): void {
    if (this.#pollTimer !== null) clearInterval(this.#pollTimer);
    if (this.#debounceTimer !== null) clearTimeout(this.#debounceTimer);
    this.#pollTimer = null;
    this.#debounceTimer = null;
    for (const wake of [...this.#waiters]) wake();
  }
}
