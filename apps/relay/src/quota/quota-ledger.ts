import { hash1, hash2, SharedLock } from "../shard/shared-table";

/** Row layout, in BigInt64 slots: key, period start (ms), bytes used, fleet-exhausted period start. */
const KEY = 0;
const PERIOD = 1;
const USED = 2;
const FLEET = 3;
const ROW = 4;
/** Header before the rows: the lock (Int32 0), padded to 8 bytes for the BigInt64 view. */
const HEADER_BYTES = 8;

/** What one subject spent in the period it is counting now. */
export interface LedgerUsage {
  periodStartMs: number;
  bytes: number;
  /** The control plane said the fleet spent this period's quota. */
  fleetExhausted: boolean;
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
   * still counting an older period starts over at zero. -1: the table is full.
   */
  open(subject: string, periodStartMs: number): number {
    const start = BigInt(periodStartMs);
    return this.#lock.run(() => {
      const row = this.#find(subject, true);
      if (row < 0) return -1;
      const at = row * ROW;
      if (this.#slots[at + PERIOD]! < start) {
        this.#slots[at + PERIOD] = start;
        Atomics.store(this.#slots, at + USED, 0n);
      }
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

  /** Whether the fleet's verdict for the period starting at `periodStartMs` is "spent". */
  fleetExhausted(row: number, periodStartMs: number): boolean {
    return Atomics.load(this.#slots, row * ROW + FLEET) === BigInt(periodStartMs);
  }

  /** The control plane's verdicts: these subjects' periods are spent fleet-wide; the rest are not. */
  setFleetVerdicts(exhausted: ReadonlyMap<string, number>, known: Iterable<string>): void {
    this.#lock.run(() => {
      for (const subject of known) {
        const period = exhausted.get(subject);
        const row = this.#find(subject, period !== undefined);
        if (row >= 0) Atomics.store(this.#slots, row * ROW + FLEET, BigInt(period ?? 0));
      }
    });
  }

  /** Starts `subject`'s current period over at zero (an operator's reset). */
  reset(subject: string): void {
    this.#lock.run(() => {
      const row = this.#find(subject, false);
      if (row < 0) return;
      Atomics.store(this.#slots, row * ROW + USED, 0n);
      Atomics.store(this.#slots, row * ROW + FLEET, 0n);
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
        fleetExhausted: this.#slots[at + FLEET] === BigInt(periodStartMs),
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
