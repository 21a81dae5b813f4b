import { LRUCache } from "lru-cache";

export interface FailureBackoffOptions {
  /** Failures allowed before answers slow down. @default 3 */
  freeFailures?: number;
  /** First delay once slowed down. @default 250 (ms) */
  baseDelayMs?: number;
  /** Longest delay. @default 5000 (ms) */
  maxDelayMs?: number;
  /** A key with no failure for this long starts over. @default 600000 (ms) */
  forgetAfterMs?: number;
  /** Keys tracked at most (client addresses plus usernames). @default 50000 */
  maxKeys?: number;
}

/**
 * Slows down repeated authentication failures per client address and per
 * username (from any address): once a key is past its free failures, each
 * further attempt waits exponentially longer before it is checked, which caps a
 * guessing client's rate without holding memory for it beyond one small entry.
 * (Parallel attempts are bounded by the pending-handshake limits.)
 */
export class FailureBackoff {
  readonly #failures: LRUCache<string, { count: number }>;
  readonly #free: number;
  readonly #base: number;
  readonly #max: number;

  constructor(options: FailureBackoffOptions = {}) {
    this.#free = options.freeFailures ?? 3;
    this.#base = options.baseDelayMs ?? 250;
    this.#max = options.maxDelayMs ?? 5_000;
    this.#failures = new LRUCache({
      max: options.maxKeys ?? 50_000,
      ttl: options.forgetAfterMs ?? 600_000,
    });
  }

  /** Records a failure for every key and returns how long to delay the answer. */
  fail(...keys: string[]): number {
    let delay = 0;
    for (const key of keys) {
      const entry = this.#failures.get(key) ?? { count: 0 };
      entry.count += 1;
      this.#failures.set(key, entry);
      delay = Math.max(delay, this.delayFor(entry.count));
    }
    return delay;
  }

  /** How long the next attempt for any of `keys` waits, from the failures so far. */
  delayBefore(...keys: string[]): number {
    let delay = 0;
    for (const key of keys) {
      delay = Math.max(delay, this.delayFor(this.#failures.get(key)?.count ?? 0));
    }
    return delay;
  }

  succeed(key: string): void {
    this.#failures.delete(key);
  }

  delayFor(failures: number): number {
    if (failures <= this.#free) return 0;
    return Math.min(this.#max, this.#base * 2 ** (failures - this.#free - 1));
  }
}
