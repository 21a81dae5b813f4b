import { DbError } from "./errors";

export interface WriteQueueOptions {
  /** Tasks waiting (not counting the running one) before run() refuses more. @default 10000 */
  maxPending?: number;
}

/**
 * Serialises every write of this process. SQLite has one writer, and two interactive
 * transactions open at once on one process's connections wait on each other's locks while the
 * event loop is the only thing that could release them; one queue makes that impossible.
 */
export class WriteQueue {
  readonly maxPending: number;
  #tail: Promise<void> = Promise.resolve();
  #pending = 0;
  #closed = false;
  /** Tasks refused because the queue was full (for a metric). */
  refused = 0;

  constructor(options: WriteQueueOptions = {}) {
    this.maxPending = options.maxPending ?? 10_000;
  }

  /** Tasks queued or running. */
  get depth(): number {
    return this.#pending;
  }

  /** Runs `task` once every task queued before it has settled; resolves with its result. */
  run<T>(task: () => Promise<T>): Promise<T> {
    if (this.#closed) {
      return Promise.reject(new DbError("DB_E_QUEUE_CLOSED", "the database is closing"));
    }
    if (this.#pending > this.maxPending) {
      this.refused += 1;
      return Promise.reject(
        new DbError(
          "DB_E_QUEUE_FULL",
          `write queue full (${this.maxPending} pending writes); retry later`,
        ),
      );
    }
    this.#pending += 1;
    const result = this.#tail.then(task);
    this.#tail = result.then(
      () => this.#settled(),
      () => this.#settled(),
    );
    return result;
  }

  #settled(): void {
    this.#pending -= 1;
  }

  /** Resolves when every task queued so far has settled. */
  async drain(): Promise<void> {
    let tail: Promise<void>;
    do {
      tail = this.#tail;
      await tail;
    } while (tail !== this.#tail);
  }

  /** Refuses new tasks and waits for the queued ones. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.drain();
  }
}
