/** Milliseconds on a monotonic clock; injected so the shaper is testable without sockets. */
export type Clock = () => number;

export const monotonicClock: Clock = () => performance.now();

/**
 * A token bucket that may go into debt: a sender may go while the balance is
 * positive and is charged the whole chunk afterwards, so a chunk larger than
 * the burst still passes, and the long-run rate stays exact (the debt is
 * paid back before the next chunk).
 */
export class TokenBucket {
  #rate: number;
  #burst: number;
  #tokens: number;
  #updatedMs: number;

  constructor(rateBytesPerSec: number, burstBytes: number, nowMs: number) {
    this.#rate = rateBytesPerSec;
    this.#burst = burstBytes;
    this.#tokens = burstBytes;
    this.#updatedMs = nowMs;
  }

  get rateBytesPerSec(): number {
    return this.#rate;
  }

  get burstBytes(): number {
    return this.#burst;
  }

  /** The balance at `nowMs` (negative: in debt). */
  tokens(nowMs: number): number {
    this.#refill(nowMs);
    return this.#tokens;
  }

  /** Charges `bytes`, possibly into debt. */
  take(bytes: number, nowMs: number): void {
    this.#refill(nowMs);
    this.#tokens -= bytes;
  }

  /** Milliseconds until the balance is above `floor` (0 when it already is). */
  msUntilAbove(floor: number, nowMs: number): number {
    this.#refill(nowMs);
    if (this.#tokens > floor) return 0;
    // One byte past the floor, so the wake-up never lands exactly on it.
    return ((floor - this.#tokens + 1) / this.#rate) * 1000;
  }

  /** New rate and burst from now on; the balance carries over, capped at the new burst. */
  reconfigure(rateBytesPerSec: number, burstBytes: number, nowMs: number): void {
    this.#refill(nowMs);
    this.#rate = rateBytesPerSec;
    this.#burst = burstBytes;
    this.#tokens = Math.min(this.#tokens, burstBytes);
  }

  #refill(nowMs: number): void {
    const elapsedMs = nowMs - this.#updatedMs;
    if (elapsedMs <= 0) return;
    this.#updatedMs = nowMs;
    this.#tokens = Math.min(this.#burst, this.#tokens + (this.#rate * elapsedMs) / 1000);
  }
}
