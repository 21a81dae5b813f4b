export interface AuthLimiterOptions {
  /** Failed authentications from one address allowed within `windowMs`. @default 20 */
  maxFailures?: number;
  /** Length of the window, in ms; an address over the limit is refused until it passes. @default 60000 */
  windowMs?: number;
  /** Addresses tracked at most; the oldest are forgotten first. @default 10000 */
  maxTracked?: number;
}

/**
 * Rate limit on failed authentication per client address, so a token cannot be guessed at
 * line rate. Successful requests are never limited.
 */
export class AuthLimiter {
  readonly maxFailures: number;
  readonly windowMs: number;
  readonly maxTracked: number;
  readonly #failures = new Map<string, number[]>();

  constructor(options: AuthLimiterOptions = {}) {
    this.maxFailures = options.maxFailures ?? 20;
    this.windowMs = options.windowMs ?? 60_000;
    this.maxTracked = options.maxTracked ?? 10_000;
  }

  #recent(key: string, nowMs: number): number[] {
    const times = this.#failures.get(key);
    if (times === undefined) return [];
    const cutoff = nowMs - this.windowMs;
    while (times.length > 0 && times[0]! <= cutoff) times.shift();
    if (times.length === 0) this.#failures.delete(key);
    return times;
  }

  /** True when `key` has used up its failures for now. */
  isLimited(key: string, nowMs = Date.now()): boolean {
    return this.#recent(key, nowMs).length >= this.maxFailures;
  }

  recordFailure(key: string, nowMs = Date.now()): void {
    const times = this.#recent(key, nowMs);
    if (times.length === 0) {
      if (this.#failures.size >= this.maxTracked) {
        const oldest = this.#failures.keys().next().value;
        if (oldest !== undefined) this.#failures.delete(oldest);
      }
      this.#failures.set(key, times);
    }
    times.push(nowMs);
  }
}
