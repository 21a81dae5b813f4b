import { countedFromMs, isRolling, periodWindow } from "@edgesocks/policy";
import type { RelayMetrics } from "../metrics";
import type { FlowGate } from "../session/pipe";
import type { QuotaLedger } from "./quota-ledger";
import { ledgerKey, ledgerKeys, type QuotaRule } from "./quota-rules";
import { ThrottleGate } from "./throttle-gate";

/** What the pipe asks of a session with a quota, per chunk. */
export interface QuotaMeter {
  /**
   * Counts `bytes` about to go. False: the quota was already spent before
   * them (they were not counted) and the session must close.
   */
  charge(up: boolean, bytes: number): boolean;
  /** Set once a throttling quota is spent: every byte then passes this gate. */
  readonly throttle: FlowGate | null;
  /** `onChange` runs when `throttle` is set. */
  watch(onChange: () => void): void;
}

export interface QuotaGuardOptions {
  ledger: QuotaLedger;
  metrics: RelayMetrics;
  /** How often open sessions are checked against quotas spent elsewhere (other threads, the fleet). @default 250 */
  sweepMs?: number;
}

/** One rule as a session counts it: the ledger row of the period (or bucket) in force. */
interface Counting {
  readonly rule: QuotaRule;
  /** Where this period's (bucket's) bytes are added. */
  row: number;
  /** Where the fleet's count of the subject is held (the subject's own row). */
  fleetRow: number;
  periodStartMs: number;
  endMs: number;
  /** A rolling window's earlier buckets still in it, as counted here when the bucket began. */
  earlierBytes: number;
}

/**
 * Quotas in one worker thread: admits requests, meters sessions' chunks into
 * the shared ledger, and sweeps open sessions so a quota spent by another
 * session, thread or relay closes or throttles them within `sweepMs` even
 * when they are idle (gost notices only at a connection's next read or write).
 */
export class QuotaGuard {
  readonly ledger: QuotaLedger;
  readonly #metrics: RelayMetrics;
  readonly #meters = new Set<SessionMeter>();
  readonly #throttles = new Map<string, ThrottleGate>();
  readonly #timer: NodeJS.Timeout;

  constructor(options: QuotaGuardOptions) {
    this.ledger = options.ledger;
    this.#metrics = options.metrics;
    this.#timer = setInterval(() => this.#sweep(), options.sweepMs ?? 250);
    this.#timer.unref();
  }

  /**
   * Whether a new request may start: null, or the subject whose quota is spent
   * (or "ledger_full": more subjects than the ledger holds, refused rather than uncounted).
   */
  spent(rules: readonly QuotaRule[]): string | null {
    const now = Date.now();
    for (const rule of rules) {
      const counting = this.open(rule, now);
      if (counting === null) return "ledger_full";
      if (this.isSpent(counting)) {
        this.#metrics.quotaExhausted.inc({ action: "refused", scope: scopeOf(rule) });
        return rule.subject;
      }
    }
    return null;
  }

  /** A meter for one session; `close` ends the session (its record says `quota`). */
  attach(rules: readonly QuotaRule[], close: () => void): SessionMeter {
    const now = Date.now();
    const counting: Counting[] = [];
    for (const rule of rules) {
      const c = this.open(rule, now);
      if (c !== null) counting.push(c);
    }
    const meter = new SessionMeter(this, counting, close);
    this.#meters.add(meter);
    return meter;
  }

  detach(meter: SessionMeter): void {
    this.#meters.delete(meter);
  }

  close(): void {
    clearInterval(this.#timer);
  }

  /** @internal the row of `rule` for the period holding `nowMs`; null when the ledger is full. */
  open(rule: QuotaRule, nowMs: number): Counting | null {
    const { ledger } = this;
    const window = periodWindow(rule.period, rule.timeZone, nowMs);
    const row = ledger.open(ledgerKey(rule, window.startMs), window.startMs);
    if (row < 0) return null;
    let fleetRow = row;
    let earlierBytes = 0;
    if (isRolling(rule.period)) {
      fleetRow = ledger.open(rule.subject, window.startMs);
      if (fleetRow < 0) return null;
      const from = countedFromMs(rule.period, rule.timeZone, nowMs);
      for (const key of ledgerKeys(rule)) {
        const slot = ledger.find(key);
        if (slot < 0 || slot === row) continue;
        const start = ledger.periodOf(slot);
        if (start >= from && start < window.startMs) earlierBytes += ledger.used(slot);
      }
    }
    return {
      rule,
      row,
      fleetRow,
      periodStartMs: window.startMs,
      endMs: window.endMs,
      earlierBytes,
    };
  }

  /** @internal this relay's count plus the fleet's reached the quota. */
  isSpent(c: Counting): boolean {
    const { ledger } = this;
    const counted = ledger.used(c.row) + c.earlierBytes;
    return counted + ledger.elsewhere(c.fleetRow, c.periodStartMs) >= c.rule.bytes;
  }

  /** @internal one gate per throttled subject in this thread. */
  throttleFor(rule: QuotaRule): ThrottleGate {
    let gate = this.#throttles.get(rule.subject);
    if (gate === undefined || gate.rateBytesPerSec !== rule.throttleBytesPerSec) {
      gate = new ThrottleGate(rule.throttleBytesPerSec!);
      this.#throttles.set(rule.subject, gate);
    }
    return gate;
  }

  /** @internal */
  count(action: "closed" | "throttled", rule: QuotaRule): void {
    this.#metrics.quotaExhausted.inc({ action, scope: scopeOf(rule) });
  }

  #sweep(): void {
    for (const meter of this.#meters) meter.check();
  }
}

function scopeOf(rule: QuotaRule): "user" | "group" {
  return rule.subject.startsWith("group:") ? "group" : "user";
}

/** The quota side of one session: a handful of ledger rows it adds its chunks to. */
export class SessionMeter implements QuotaMeter {
  throttle: FlowGate | null = null;
  #watcher: (() => void) | null = null;
  #nextEndMs: number;
  #done = false;

  constructor(
    private readonly guard: QuotaGuard,
    private readonly counting: Counting[],
    private readonly close: () => void,
  ) {
    this.#nextEndMs = Math.min(...counting.map((c) => c.endMs));
  }

  charge(up: boolean, bytes: number): boolean {
    if (Date.now() >= this.#nextEndMs) this.#rollOver();
    const { ledger } = this.guard;
    let crossed: Counting | null = null;
    for (let i = 0; i < this.counting.length; i++) {
      const c = this.counting[i]!;
      if (up ? !c.rule.up : !c.rule.down) continue;
      const before =
        ledger.add(c.row, bytes) + c.earlierBytes + ledger.elsewhere(c.fleetRow, c.periodStartMs);
      const spent = before >= c.rule.bytes;
      if (spent && c.rule.throttleBytesPerSec === undefined) {
        // Spent before this chunk: nothing of it goes, so nothing of it counts.
        for (let j = 0; j <= i; j++) {
          const taken = this.counting[j]!;
          if (up ? taken.rule.up : taken.rule.down) ledger.refund(taken.row, bytes);
        }
        this.#end(c);
        return false;
      }
      if (spent || before + bytes >= c.rule.bytes) crossed = c;
    }
    // This chunk goes (at most one chunk past the quota per session); then the quota acts.
    if (crossed !== null) queueMicrotask(() => this.check());
    return true;
  }

  watch(onChange: () => void): void {
    this.#watcher = onChange;
  }

  /** Acts on any quota of this session spent by now (swept, and after a chunk that crossed one). */
  check(): void {
    if (this.#done) return;
    for (const c of this.counting) {
      if (!this.guard.isSpent(c)) continue;
      if (c.rule.throttleBytesPerSec === undefined) return this.#end(c);
      if (this.throttle === null) {
        this.throttle = this.guard.throttleFor(c.rule);
        this.guard.count("throttled", c.rule);
        this.#watcher?.();
      }
    }
  }

  release(): void {
    this.#done = true;
    this.guard.detach(this);
  }

  #end(c: Counting): void {
    if (this.#done) return;
    this.guard.count("closed", c.rule);
    this.release();
    this.close();
  }

  /** A period ended: count into the next one's rows. */
  #rollOver(): void {
    const now = Date.now();
    for (let i = 0; i < this.counting.length; i++) {
      const c = this.counting[i]!;
      if (now < c.endMs) continue;
      const next = this.guard.open(c.rule, now);
      if (next !== null) this.counting[i] = next;
    }
    this.#nextEndMs = Math.min(...this.counting.map((c) => c.endMs));
    // A new period: a session throttled in the last one goes at full speed again.
    if (this.throttle !== null && !this.counting.some((c) => this.guard.isSpent(c))) {
      this.throttle = null;
      this.#watcher?.();
    }
  }
}
