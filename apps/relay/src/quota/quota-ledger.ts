import { hash1, hash2, SharedLock } from "../shard/shared-table";

/**
 * Row layout, in BigInt64 slots: key, period start (ms), bytes used here; then the fleet's word
 * on one period (from the control plane): that period's start, what other relays spent of it,
 * and whether the fleet spent it all.
 */
const KEY = 0;
const PERIOD = 1;
const USED = 2;
const FLEET_PERIOD = 3;
const FLEET_OTHERS = 4;
const FLEET_SPENT = 5;
const ROW = 6;
/** Header before the rows: the lock (Int32 0), padded to 8 bytes for the BigInt64 view. */
const HEADER_BYTES = 8;

/** What one subject spent in the period it is counting now. */
export interface LedgerUsage {
  periodStartMs: number;
  bytes: number;
}

/** The control plane's count of one quota (a heartbeat's answer). */
export interface FleetVerdict {
  subject: string;
  periodStartMs: number;
  othersBytes: number;
  exhausted: boolean;
}

/**
 * Bytes spent per quota subject (`user:alice`, `group:developers`) in its
 * current period, in one SharedArrayBuffer every worker thread of a relay
 * counts into: a session adds each chunk with one Atomics.add, so N threads
 * and N sessions see one exact total. Finding or rolling over a row takes the
 * lock (once per session and per period change), the per-chunk add does not.
 * Rows are never removed: the table holds one row per subject with a quota
 * ever seen (bounded by `rows`, refused beyond it).
 */
export class QuotaLedger {
  readonly buffer: SharedArrayBuffer;
  readonly #rows: number;
  readonly #lock: SharedLock;
  readonly #slots: BigInt64Array;

  static create(rows = 16_384): QuotaLedger {
    return new QuotaLedger(new SharedArrayBuffer(HEADER_BYTES + rows * ROW * 8));
  }

  constructor(buffer: SharedArrayBuffer) {
    this.buffer = buffer;
    this.#rows = (buffer.byteLength - HEADER_BYTES) / (ROW * 8);
    this.#lock = new SharedLock(new Int32Array(buffer, 0, 2), 0);
    this.#slots = new BigInt64Array(buffer, HEADER_BYTES);
  }

  /**
   * The row counting `subject` in the period starting at `periodStartMs`; a row
   * still counting an older period starts over at zero. One counting a later
   * start (the policy changed the period or time zone) is relabelled and keeps
   * its count, so reports name the period the control plane computes. -1: the
   * table is full.
   */
  open(subject: string, periodStartMs: number): number {
    const start = BigInt(periodStartMs);
    return this.#lock.run(() => {
      const row = this.#find(subject, true);
      if (row < 0) return -1;
      const at = row * ROW;
      const stored = this.#slots[at + PERIOD]!;
      if (stored < start) Atomics.store(this.#slots, at + USED, 0n);
      if (stored !== start) this.#slots[at + PERIOD] = start;
      return row;
    });
  }

  /** Adds `bytes` to `row`; returns the total before them. */
  add(row: number, bytes: number): number {
    return Number(Atomics.add(this.#slots, row * ROW + USED, BigInt(bytes)));
  }

  /** Takes back bytes that were counted but not sent. */
  refund(row: number, bytes: number): void {
    Atomics.sub(this.#slots, row * ROW + USED, BigInt(bytes));
  }

  used(row: number): number {
    return Number(Atomics.load(this.#slots, row * ROW + USED));
  }

  /** The period start `row` counts (0: none yet). */
  periodOf(row: number): number {
    return Number(Atomics.load(this.#slots, row * ROW + PERIOD));
  }

  /** The row of `subject` without inserting it; -1 when absent. */
  find(subject: string): number {
    return this.#lock.run(() => this.#find(subject, false));
  }

  /**
   * Bytes of the period starting at `periodStartMs` spent elsewhere in the fleet, as the control
   * plane last said; Number.MAX_SAFE_INTEGER when it said the fleet spent the whole quota.
   */
  elsewhere(row: number, periodStartMs: number): number {
    const at = row * ROW;
    if (Atomics.load(this.#slots, at + FLEET_PERIOD) !== BigInt(periodStartMs)) return 0;
    if (Atomics.load(this.#slots, at + FLEET_SPENT) !== 0n) return Number.MAX_SAFE_INTEGER;
    return Number(Atomics.load(this.#slots, at + FLEET_OTHERS));
  }

  /** The control plane's count of each subject: other relays' bytes, and whether all is spent. */
  setFleetVerdicts(verdicts: readonly FleetVerdict[]): void {
    this.#lock.run(() => {
      for (const v of verdicts) {
        const row = this.#find(v.subject, true);
        if (row < 0) continue;
        const at = row * ROW;
        Atomics.store(this.#slots, at + FLEET_PERIOD, BigInt(v.periodStartMs));
        Atomics.store(this.#slots, at + FLEET_OTHERS, BigInt(v.othersBytes));
        Atomics.store(this.#slots, at + FLEET_SPENT, v.exhausted ? 1n : 0n);
      }
    });
  }

  /** The fleet spent these quotas (a push between heartbeats). */
  markFleetSpent(quotas: readonly { subject: string; periodStartMs: number }[]): void {
    this.#lock.run(() => {
      for (const q of quotas) {
        const row = this.#find(q.subject, true);
        if (row < 0) continue;
        const at = row * ROW;
        if (this.#slots[at + FLEET_PERIOD] !== BigInt(q.periodStartMs)) {
          Atomics.store(this.#slots, at + FLEET_OTHERS, 0n);
        }
        Atomics.store(this.#slots, at + FLEET_PERIOD, BigInt(q.periodStartMs));
        Atomics.store(this.#slots, at + FLEET_SPENT, 1n);
      }
    });
  }

  /** Starts `subject`'s current period over at zero (an operator's reset). */
  reset(subject: string): void {
    this.#lock.run(() => {
      const row = this.#find(subject, false);
      if (row < 0) return;
      const at = row * ROW;
      Atomics.store(this.#slots, at + USED, 0n);
      Atomics.store(this.#slots, at + FLEET_OTHERS, 0n);
      Atomics.store(this.#slots, at + FLEET_SPENT, 0n);
    });
  }

  /** What `subject` spent in the period its row counts; null: never counted here. */
  usage(subject: string): LedgerUsage | null {
    return this.#lock.run(() => {
      const row = this.#find(subject, false);
      if (row < 0) return null;
      const at = row * ROW;
      const periodStartMs = Number(this.#slots[at + PERIOD]!);
      return {
        periodStartMs,
        bytes: Number(Atomics.load(this.#slots, at + USED)),
      };
    });
  }

  /** Under the lock: open addressing on a 64-bit key made of two 32-bit hashes (never 0). */
  #find(subject: string, insert: boolean): number {
    const h1 = hash1(subject);
    const key = BigInt.asIntN(64, (BigInt(h1 >>> 0) << 32n) | BigInt(hash2(subject) >>> 0));
    const slots = this.#slots;
    for (let i = (h1 >>> 0) % this.#rows, probes = 0; probes < this.#rows; probes++) {
      const at = i * ROW;
      const stored = slots[at + KEY]!;
      if (stored === key) return i;
      if (stored === 0n) {
        if (!insert) return -1;
        slots[at + KEY] = key;
        return i;
      }
      i = (i + 1) % this.#rows;
    }
    return -1;
  }
}
