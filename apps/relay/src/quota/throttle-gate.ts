import type { FlowGate } from "../session/pipe";
import { TokenBucket } from "../token-bucket";

/**
 * What a subject whose quota is spent may still send, per worker thread: one
 * token bucket at `throttle_bytes_per_sec` (one second of burst) shared by
 * all its sessions here and both their directions.
 */
export class ThrottleGate implements FlowGate {
  readonly sliceBytes: number;
  readonly #bucket: TokenBucket;

  constructor(rateBytesPerSec: number) {
    this.#bucket = new TokenBucket(rateBytesPerSec, rateBytesPerSec, performance.now());
    this.sliceBytes = Math.max(1, Math.min(16_384, Math.ceil(rateBytesPerSec / 10)));
  }

  get rateBytesPerSec(): number {
    return this.#bucket.rateBytesPerSec;
  }

  offer(bytes: number, onGrant: () => void): boolean {
    const now = performance.now();
    if (this.#bucket.tokens(now) > 0) {
      this.#bucket.take(bytes, now);
      return true;
    }
    setTimeout(
      () => {
        this.#bucket.take(bytes, performance.now());
        onGrant();
      },
      this.#bucket.msUntilAbove(0, now),
    ).unref();
    return false;
  }
}
