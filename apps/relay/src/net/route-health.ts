/** Hops tracked at most; past it the table starts over (a bound, not a policy). */
const MAX_TRACKED_HOPS = 4096;

interface HopState {
  /** Failures in a row since the last success or the last time the hop was marked down. */
  fails: number;
  /** performance.now() until which the hop is skipped; 0: not skipped. */
  downUntilMs: number;
}

/**
 * Passive health of upstream hops, as gost's maxFails/failTimeout: a hop that failed `maxFails`
 * times in a row is skipped for `failTimeoutMs`, then tried again. Keys name the route, the
 * chain and the hop, so the same parent in two routes is judged by each route's own settings.
 */
export class RouteHealth {
  readonly #hops = new Map<string, HopState>();

  isDown(key: string, nowMs: number): boolean {
    const state = this.#hops.get(key);
    return state !== undefined && state.downUntilMs > nowMs;
  }

  /** Counts a failure; true when it marked the hop down. */
  failed(
    key: string,
    options: { maxFails: number; failTimeoutMs: number; nowMs: number },
  ): boolean {
    let state = this.#hops.get(key);
    if (state === undefined) {
      if (this.#hops.size >= MAX_TRACKED_HOPS) this.#hops.clear();
      state = { fails: 0, downUntilMs: 0 };
      this.#hops.set(key, state);
    }
    state.fails += 1;
    if (state.fails < options.maxFails) return false;
    state.fails = 0;
    state.downUntilMs = options.nowMs + options.failTimeoutMs;
    return true;
  }

  succeeded(key: string): void {
    this.#hops.delete(key);
  }
}
