import { ipBucketKey } from "@edgesocks/socks/address";

export interface AuthLimiterOptions {
  /** Failed authentications from one address allowed within `windowMs`. @default 20 */
  maxFailures?: number;
  /** Length of the window, in ms; an address over the limit is refused until it passes. @default 60000 */
  windowMs?: number;
  /** Addresses tracked at most; the oldest are forgotten first. @default 10000 */
  maxTracked?: number;
}

/**
 * The bucket an address counts in: an IPv4 address itself (also when IPv4-mapped), an IPv6
 * address by its /64 (one host usually holds a whole /64), any other text as is.
 */
export function limiterKey(address: string): string {
  return ipBucketKey(address) ?? address;
}

/**
 * Rate limit on failed authentication per key (a client address, bucketed by limiterKey, or
 * any other text such as a token prefix), so tokens cannot be guessed at line rate. Callers
 * record only presented-and-wrong credentials, and never refuse a valid one for it.
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
    return this.#recent(limiterKey(key), nowMs).length >= this.maxFailures;
  }

  recordFailure(address: string, nowMs = Date.now()): void {
    const key = limiterKey(address);
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
