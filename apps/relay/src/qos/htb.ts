import { type Clock, TokenBucket } from "../token-bucket";

/** One user's rates in one direction, resolved from the policy (user, then group, then defaults). */
export interface ClassLimits {
  /** Bytes/s the user may always send, ahead of users borrowing spare capacity. 0: none. */
  guaranteedBytesPerSec: number;
  /** Ceiling on everything the user sends; undefined: only the global rate limits it. */
  maxBytesPerSec: number | undefined;
  /** Depth of the user's buckets; raised to effectiveBurst(). */
  burstBytes: number | undefined;
}

/** The root of one direction's tree. */
export interface TreeSettings {
  /** The relay's total rate in this direction; undefined: no global limit. */
  globalBytesPerSec: number | undefined;
  /** Depth of the global bucket; raised to effectiveBurst(). */
  burstBytes: number | undefined;
  /**
   * true: spare capacity goes to the users waiting for it in equal shares (start-time fair
   * queueing over users); false: first come, first served.
   */
  fairSharing: boolean;
}

/** No bucket is shallower than this: one full socket read always fits. */
export const MIN_BURST_BYTES = 64 * 1024;
/** A bucket holds at least this much of its rate, so a late timer never loses tokens. */
export const BURST_FLOOR_MS = 100;
/** Shaped data moves in slices of about this much of the user's rate (smooth at low rates). */
const SLICE_MS = 100;
const MIN_SLICE_BYTES = 4 * 1024;
const MAX_SLICE_BYTES = 64 * 1024;

export function effectiveBurst(rateBytesPerSec: number, burstBytes: number | undefined): number {
  return Math.max(burstBytes ?? 0, MIN_BURST_BYTES, (rateBytesPerSec * BURST_FLOOR_MS) / 1000);
}

/** Verdicts: the class may send now on its guarantee, or on spare capacity; else ms to wait. */
const GREEN = -1;
const BORROW = -2;

/** One user in one direction: its buckets and its flows waiting for tokens. */
class UserClass {
  ceil: TokenBucket | null = null;
  guarantee: TokenBucket | null = null;
  /** Bytes sent on spare capacity, in start-time fair queueing's virtual time. */
  vtime = 0;
  readonly queue: Flow[] = [];
  flows = 0;
  sliceBytes = MAX_SLICE_BYTES;
  /** Bytes offered since the last takeOffered(): the user's recent demand. */
  offered = 0;

  constructor(
    readonly name: string,
    public limits: ClassLimits,
  ) {}
}

/**
 * One direction of one connection. The pipe offers each chunk; a refused
 * offer leaves the flow waiting (its source paused) until `onGrant` runs.
 */
export class Flow {
  /** @internal bytes offered and not granted yet */
  pending = 0;
  /** @internal set while waiting */
  onGrant: (() => void) | null = null;
  /** @internal enqueue order, for first come, first served */
  seq = 0;
  /** @internal */
  closed = false;

  constructor(
    private readonly tree: HtbTree,
    /** @internal */
    readonly userClass: UserClass,
  ) {}

  /** Largest piece worth offering at once: about 100 ms of this user's rate. */
  get sliceBytes(): number {
    return this.userClass.sliceBytes;
  }

  get user(): string {
    return this.userClass.name;
  }

  /** True: `bytes` are charged and may go now. False: hold them; `onGrant` runs once they may. */
  offer(bytes: number, onGrant: () => void): boolean {
    return this.tree.offer(this, bytes, onGrant);
  }

  get waiting(): boolean {
    return this.onGrant !== null;
  }

  /** Leaves the tree; a pending wait is dropped without a grant. */
  close(): void {
    this.tree.closeFlow(this);
  }
}

export interface HtbTreeOptions {
  clock: Clock;
  settings: TreeSettings;
  /** A flow started waiting: service() is worth running in about `delayMs`. */
  onWait?: (delayMs: number) => void;
}

/**
 * Hierarchical token buckets for one direction, as a pure data structure
 * (the caller owns the timer and the clock):
 *
 * - root: the global rate, if any;
 * - one class per user with flows: a guarantee bucket and a ceiling bucket.
 *
 * A user sends on its guarantee first (green: it goes ahead of borrowers and
 * may push the global bucket into debt down to one burst), then borrows spare
 * global capacity (only while the global bucket is positive). Borrowers that
 * have to wait are served in start-time fair queueing order over users, so the
 * spare capacity is split equally between the users who want it now and is
 * re-split the moment one stops or another starts; an idle user holds nothing
 * back. Every byte counts against the user's ceiling and the global rate.
 */
export class HtbTree {
  readonly #clock: Clock;
  readonly #onWait: ((delayMs: number) => void) | undefined;
  #settings: TreeSettings;
  #global: TokenBucket | null = null;
  readonly #classes = new Map<string, UserClass>();
  readonly #backlog = new Set<UserClass>();
  #vclock = 0;
  #seq = 0;
  #waiting = 0;

  constructor(options: HtbTreeOptions) {
    this.#clock = options.clock;
    this.#onWait = options.onWait;
    this.#settings = options.settings;
    this.configure(options.settings);
  }

  /** Flows waiting for tokens now. */
  get waitingFlows(): number {
    return this.#waiting;
  }

  /** Users with at least one open flow. */
  get users(): number {
    return this.#classes.size;
  }

  get settings(): TreeSettings {
    return this.#settings;
  }

  /** New root settings; flows and their users' balances carry over. */
  configure(settings: TreeSettings): void {
    const now = this.#clock();
    this.#settings = settings;
    const rate = settings.globalBytesPerSec;
    if (rate === undefined) this.#global = null;
    else if (this.#global)
      this.#global.reconfigure(rate, effectiveBurst(rate, settings.burstBytes), now);
    else this.#global = new TokenBucket(rate, effectiveBurst(rate, settings.burstBytes), now);
    for (const userClass of this.#classes.values()) this.#updateSlice(userClass);
    this.#rewake();
  }

  /** Opens a flow for `user`, creating its class with `limits` or updating it to them. */
  openFlow(user: string, limits: ClassLimits): Flow {
    let userClass = this.#classes.get(user);
    if (userClass) this.setLimits(user, limits);
    else {
      userClass = new UserClass(user, limits);
      this.#applyLimits(userClass, limits);
      this.#classes.set(user, userClass);
    }
    userClass.flows += 1;
    return new Flow(this, userClass);
  }

  /** New limits for a user with open flows (a policy change); no-op for others. */
  setLimits(user: string, limits: ClassLimits): void {
    const userClass = this.#classes.get(user);
    if (!userClass || sameLimits(userClass.limits, limits)) return;
    userClass.limits = limits;
    this.#applyLimits(userClass, limits);
    this.#rewake();
  }

  /** Bytes `user` offered since the last call, or whether it has flows waiting (then ≥ 1). */
  takeOffered(user: string): number {
    const userClass = this.#classes.get(user);
    if (!userClass) return 0;
    const offered = userClass.offered + (userClass.queue.length > 0 ? 1 : 0);
    userClass.offered = 0;
    return offered;
  }

  /** @internal see Flow.offer */
  offer(flow: Flow, bytes: number, onGrant: () => void): boolean {
    if (flow.closed) return true;
    const userClass = flow.userClass;
    userClass.offered += bytes;
    if (flow.onGrant) {
      flow.pending += bytes;
      return false;
    }
    const now = this.#clock();
    // A user's flows take turns: with one already waiting, this one queues behind it.
    if (userClass.queue.length === 0) {
      const verdict = this.#verdict(userClass, now);
      if (verdict === GREEN || (verdict === BORROW && this.#mayBorrowNow(userClass))) {
        this.#charge(userClass, bytes, verdict, now);
        return true;
      }
    }
    flow.pending = bytes;
    flow.onGrant = onGrant;
    flow.seq = ++this.#seq;
    this.#waiting += 1;
    userClass.queue.push(flow);
    if (!this.#backlog.has(userClass)) {
      // Joining users start at the current virtual time: idleness earns no credit.
      userClass.vtime = Math.max(userClass.vtime, this.#vclock);
      this.#backlog.add(userClass);
    }
    const verdict = this.#verdict(userClass, now);
    this.#onWait?.(Math.max(verdict, 0));
    return false;
  }

  /** @internal see Flow.close */
  closeFlow(flow: Flow): void {
    if (flow.closed) return;
    flow.closed = true;
    const userClass = flow.userClass;
    if (flow.onGrant) {
      flow.onGrant = null;
      flow.pending = 0;
      this.#waiting -= 1;
      const index = userClass.queue.indexOf(flow);
      if (index >= 0) userClass.queue.splice(index, 1);
      if (userClass.queue.length === 0) this.#backlog.delete(userClass);
    }
    userClass.flows -= 1;
    if (userClass.flows === 0 && this.#classes.get(userClass.name) === userClass) {
      this.#classes.delete(userClass.name);
    }
  }

  /**
   * Grants every waiting flow that may go now, in order (guarantees first, then
   * borrowers by fairness), runs their `onGrant`, and returns the milliseconds
   * until the next flow could go (Infinity when none waits).
   */
  service(): number {
    const now = this.#clock();
    const granted: (() => void)[] = [];
    const green: UserClass[] = [];
    const borrowers: UserClass[] = [];
    for (const userClass of this.#backlog) {
      const verdict = this.#verdict(userClass, now);
      if (verdict === GREEN) green.push(userClass);
      else if (verdict === BORROW) borrowers.push(userClass);
    }
    // Guarantees first; a class that uses up its guarantee joins the borrowers.
    for (const userClass of green) {
      let verdict = this.#verdict(userClass, now);
      while (verdict === GREEN && userClass.queue.length > 0) {
        this.#grant(userClass, verdict, now, granted);
        verdict = this.#verdict(userClass, now);
      }
      if (verdict === BORROW && userClass.queue.length > 0 && !borrowers.includes(userClass)) {
        borrowers.push(userClass);
      }
    }
    // Then spare capacity. Fair: in virtual-time order, one chunk per user per round, so the
    // users who want more than there is get equal shares. Otherwise: oldest waiter first.
    if (this.#settings.fairSharing) {
      borrowers.sort((a, b) => a.vtime - b.vtime);
      let round = borrowers;
      while (round.length > 0) {
        const next: UserClass[] = [];
        for (const userClass of round) {
          const verdict = this.#verdict(userClass, now);
          if (verdict >= 0) continue;
          this.#grant(userClass, verdict, now, granted);
          if (userClass.queue.length > 0) next.push(userClass);
        }
        round = next;
      }
    } else {
      borrowers.sort((a, b) => a.queue[0]!.seq - b.queue[0]!.seq);
      for (const userClass of borrowers) {
        let verdict = this.#verdict(userClass, now);
        while (verdict < 0 && userClass.queue.length > 0) {
          this.#grant(userClass, verdict, now, granted);
          verdict = this.#verdict(userClass, now);
        }
      }
    }
    let nextMs = Number.POSITIVE_INFINITY;
    for (const userClass of this.#backlog) {
      nextMs = Math.min(nextMs, Math.max(0, this.#verdict(userClass, now)));
    }
    for (const onGrant of granted) onGrant();
    return nextMs;
  }

  #grant(userClass: UserClass, verdict: number, now: number, granted: (() => void)[]): void {
    const flow = userClass.queue.shift()!;
    if (userClass.queue.length === 0) this.#backlog.delete(userClass);
    this.#charge(userClass, flow.pending, verdict, now);
    granted.push(flow.onGrant!);
    flow.onGrant = null;
    flow.pending = 0;
    this.#waiting -= 1;
  }

  #verdict(userClass: UserClass, now: number): number {
    const { ceil, guarantee } = userClass;
    if (ceil) {
      const wait = ceil.msUntilAbove(0, now);
      if (wait > 0) return wait;
    }
    const global = this.#global;
    if (guarantee && guarantee.tokens(now) > 0) {
      if (!global) return GREEN;
      const wait = global.msUntilAbove(-global.burstBytes, now);
      return wait > 0 ? wait : GREEN;
    }
    if (!global) return BORROW;
    const wait = global.msUntilAbove(0, now);
    if (wait === 0) return BORROW;
    return guarantee ? Math.min(wait, guarantee.msUntilAbove(0, now)) : wait;
  }

  /**
   * Whether a borrower that is not queued may skip the queue: always without a
   * global rate (nothing shared to be fair about), when nobody waits, or (fair
   * sharing) when its virtual start time is the smallest anyway.
   */
  #mayBorrowNow(userClass: UserClass): boolean {
    if (!this.#global || this.#backlog.size === 0) return true;
    return this.#settings.fairSharing && userClass.vtime <= this.#vclock;
  }

  #charge(userClass: UserClass, bytes: number, verdict: number, now: number): void {
    userClass.ceil?.take(bytes, now);
    this.#global?.take(bytes, now);
    if (verdict === GREEN) {
      userClass.guarantee!.take(bytes, now);
    } else {
      // Start-time fair queueing: the virtual clock is the start tag in service.
      const start = Math.max(userClass.vtime, this.#vclock);
      this.#vclock = start;
      userClass.vtime = start + bytes;
    }
  }

  #applyLimits(userClass: UserClass, limits: ClassLimits): void {
    const now = this.#clock();
    const max = limits.maxBytesPerSec;
    const guaranteed = Math.min(limits.guaranteedBytesPerSec, max ?? Number.POSITIVE_INFINITY);
    userClass.ceil = updateBucket(userClass.ceil, max, limits.burstBytes, now);
    userClass.guarantee = updateBucket(
      userClass.guarantee,
      guaranteed > 0 ? guaranteed : undefined,
      limits.burstBytes,
      now,
    );
    this.#updateSlice(userClass);
  }

  #updateSlice(userClass: UserClass): void {
    const rate = Math.min(
      userClass.limits.maxBytesPerSec ?? Number.POSITIVE_INFINITY,
      this.#settings.globalBytesPerSec ?? Number.POSITIVE_INFINITY,
    );
    userClass.sliceBytes = Math.round(
      Math.min(MAX_SLICE_BYTES, Math.max(MIN_SLICE_BYTES, (rate * SLICE_MS) / 1000)),
    );
  }

  /** Limits changed: flows that were waiting may go sooner than planned. */
  #rewake(): void {
    if (this.#backlog.size > 0) this.#onWait?.(0);
  }
}

function updateBucket(
  bucket: TokenBucket | null,
  rate: number | undefined,
  burst: number | undefined,
  now: number,
): TokenBucket | null {
  if (rate === undefined) return null;
  const depth = effectiveBurst(rate, burst);
  if (!bucket) return new TokenBucket(rate, depth, now);
  bucket.reconfigure(rate, depth, now);
  return bucket;
}

function sameLimits(a: ClassLimits, b: ClassLimits): boolean {
  return (
    a.guaranteedBytesPerSec === b.guaranteedBytesPerSec &&
    a.maxBytesPerSec === b.maxBytesPerSec &&
    a.burstBytes === b.burstBytes
  );
}
