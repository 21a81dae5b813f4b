export interface BackoffOptions {
  /** First delay ceiling. @default 500 (ms) */
  baseMs?: number;
  /** Largest delay ceiling. @default 30000 (ms) */
  maxMs?: number;
}

/**
 * Exponential back-off with full jitter: a uniformly random delay below the
 * exponential ceiling, so a fleet that lost the control plane at the same
 * moment does not come back at the same moment.
 */
export function backoffDelayMs(attempt: number, options: BackoffOptions = {}): number {
  const { baseMs = 500, maxMs = 30_000 } = options;
  return Math.random() * Math.min(maxMs, baseMs * 2 ** Math.min(attempt, 30));
}

export interface RetryOptions extends BackoffOptions {
  /** Attempts at most (the first one included). @default Infinity */
  attempts?: number;
  signal?: AbortSignal;
  /** Sees every failure before the wait. */
  onError?: (error: unknown, attempt: number, delayMs: number) => void;
}

/** Runs `fn` until it succeeds, waiting backoffDelayMs() between attempts. */
export async function retry<T>(
  fn: (attempt: number) => Promise<T>,
  options: RetryOptions = {},
): Promise<T> {
  const attempts = options.attempts ?? Number.POSITIVE_INFINITY;
  for (let attempt = 0; ; attempt++) {
    options.signal?.throwIfAborted();
    try {
      return await fn(attempt);
    } catch (error) {
      if (attempt + 1 >= attempts) throw error;
      const delayMs = backoffDelayMs(attempt, options);
      options.onError?.(error, attempt, delayMs);
      await sleep(delayMs, options.signal);
    }
  }
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
