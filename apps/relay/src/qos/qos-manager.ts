import type { RelayMetrics } from "../metrics";
import type { PolicyLimits } from "../policy/policy-limits";
import type { PolicyStore } from "../policy/policy-store";
import type { FlowGate, Shaping } from "../session/pipe";
import { type Clock, monotonicClock } from "../token-bucket";
import { type ClassLimits, type Flow, HtbTree, type TreeSettings } from "./htb";

export interface QosManagerOptions {
  policy: PolicyStore;
  metrics?: RelayMetrics | undefined;
  /** Shortest wait between two services of the shaper (the timer's granularity). @default 10 (ms) */
  tickMs?: number;
  clock?: Clock;
  /** Worker threads: this thread's part of each rate (absent: the whole rate). */
  share?: QosShare | undefined;
  /** How often shares are re-published and re-read. @default 100 (ms) */
  sharePeriodMs?: number;
}

/**
 * Splits rates between worker threads: each publishes, per shaped user, how
 * many of its sessions of that user are busy, and takes the fraction of the
 * user's rates (and of the global rate) its busy sessions are of all of them.
 */
export interface QosShare {
  publish(weights: ReadonlyMap<string, number>): void;
  /** This thread's fraction of `user`'s rates; `sessions`: its sessions of the user. */
  userShare(user: string, sessions: number): number;
  /** This thread's fraction of the global rate; `sessions`: its shaped sessions. */
  globalShare(sessions: number): number;
}

/** No thread's share drops below this, so a rate never reaches zero. */
const MIN_SHARE = 1 / 64;

const UNSHAPED: TreeSettings = {
  globalBytesPerSec: undefined,
  burstBytes: undefined,
  fairSharing: true,
};

/**
 * Bandwidth shaping for the whole relay: one HTB tree per direction, one
 * coarse timer for every waiting flow of every session, and the policy
 * (PolicyStore.onChange) applied to open sessions as well as new ones.
 */
export class QosManager {
  readonly #up: HtbTree;
  readonly #down: HtbTree;
  readonly #clock: Clock;
  readonly #tickMs: number;
  readonly #metrics: RelayMetrics | undefined;
  readonly #sessions = new Map<string, Set<SessionShaping>>();
  readonly #unsubscribe: () => void;
  #limits: PolicyLimits | undefined;
  #timer: NodeJS.Timeout | undefined;
  #dueMs = Number.POSITIVE_INFINITY;
  readonly #share: QosShare | undefined;
  readonly #shareTimer: NodeJS.Timeout | undefined;
  /** Users whose weight this thread published last period (so a departed user goes to 0). */
  #published = new Set<string>();
  #globalShare = 1;

  constructor(options: QosManagerOptions) {
    this.#clock = options.clock ?? monotonicClock;
    this.#tickMs = options.tickMs ?? 10;
    this.#metrics = options.metrics;
    const tree = (direction: "up" | "down") =>
      new HtbTree({
        clock: this.#clock,
        settings: UNSHAPED,
        onWait: (delayMs) => {
          this.#metrics?.qosWaits.inc({ direction });
          this.#schedule(delayMs);
        },
      });
    this.#up = tree("up");
    this.#down = tree("down");
    this.#share = options.share;
    if (this.#share) {
      this.#shareTimer = setInterval(() => this.#rebalance(), options.sharePeriodMs ?? 100);
      this.#shareTimer.unref();
    }
    if (options.policy.loaded) this.#apply(options.policy.current.limits);
    this.#unsubscribe = options.policy.onChange(
      (next) => this.#apply(next.limits),
      "QoS re-apply to open sessions",
    );
  }

  /** Client → destination and destination → client trees (for tests and the ops API). */
  get trees(): { up: HtbTree; down: HtbTree } {
    return { up: this.#up, down: this.#down };
  }

  /**
   * Shaping for a new session of `user`. Unshaped users get null gates (the
   * pipe's fast path) but stay registered, so a later policy can shape them.
   */
  attach(user: string): Shaping {
    const session = new SessionShaping(user, this);
    let set = this.#sessions.get(user);
    if (!set) {
      set = new Set();
      this.#sessions.set(user, set);
    }
    set.add(session);
    const limits = this.#limitsOf(user);
    if (limits) session.shape(limits);
    return session;
  }

  close(): void {
    this.#unsubscribe();
    clearInterval(this.#shareTimer);
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /** @internal */
  openFlows(user: string, limits: ClassLimits): { up: Flow; down: Flow } {
    return { up: this.#up.openFlow(user, limits), down: this.#down.openFlow(user, limits) };
  }

  /** @internal */
  detach(session: SessionShaping): void {
    const set = this.#sessions.get(session.user);
    set?.delete(session);
    if (set?.size === 0) this.#sessions.delete(session.user);
    this.#updateGauge();
  }

  #apply(policyLimits: PolicyLimits): void {
    this.#limits = policyLimits;
    this.#configureTrees();
    for (const [user, sessions] of this.#sessions) {
      const limits = this.#limitsOf(user);
      if (limits) {
        this.#up.setLimits(user, limits);
        this.#down.setLimits(user, limits);
      }
      for (const session of sessions) {
        if (limits) session.shape(limits);
        else session.unshape();
      }
    }
  }

  /** The user's limits in force in this thread: the policy's, times this thread's share. */
  #limitsOf(user: string): ClassLimits | null {
    const limits = this.#limits?.classLimits(user) ?? null;
    if (!limits || !this.#share) return limits;
    const share = this.#share.userShare(user, this.#sessions.get(user)?.size ?? 0);
    return scaleLimits(limits, Math.max(share, MIN_SHARE));
  }

  #configureTrees(): void {
    const settings = this.#limits?.tree ?? UNSHAPED;
    const global = settings.globalBytesPerSec;
    const scaled =
      global === undefined || this.#globalShare === 1
        ? settings
        : { ...settings, globalBytesPerSec: global * this.#globalShare };
    this.#up.configure(scaled);
    this.#down.configure(scaled);
  }

  /** Worker threads: publish this thread's busy sessions per shaped user, re-read the shares. */
  #rebalance(): void {
    const share = this.#share!;
    const policyLimits = this.#limits;
    if (!policyLimits) return;
    const weights = new Map<string, number>();
    for (const user of this.#published) weights.set(user, 0);
    let busy = 0;
    for (const [user, sessions] of this.#sessions) {
      if (!policyLimits.classLimits(user)) continue;
      const offered = this.#up.takeOffered(user) + this.#down.takeOffered(user);
      const weight = offered > 0 ? sessions.size : 0;
      weights.set(user, weight);
      busy += weight;
    }
    share.publish(weights);
    this.#published = new Set([...weights].filter(([, w]) => w > 0).map(([u]) => u));
    for (const user of this.#sessions.keys()) {
      const limits = this.#limitsOf(user);
      if (limits) {
        this.#up.setLimits(user, limits);
        this.#down.setLimits(user, limits);
      }
    }
    const globalShare = Math.max(share.globalShare(busy), MIN_SHARE);
    // Re-configuring resets nothing but is not free; skip changes under 1%.
    if (Math.abs(globalShare - this.#globalShare) > 0.01) {
      this.#globalShare = globalShare;
      this.#configureTrees();
    }
  }

  #schedule(delayMs: number): void {
    const now = this.#clock();
    const dueMs = now + Math.max(delayMs, this.#tickMs);
    if (this.#timer && this.#dueMs <= dueMs) return;
    clearTimeout(this.#timer);
    this.#dueMs = dueMs;
    this.#timer = setTimeout(this.#service, dueMs - now).unref();
  }

  #service = (): void => {
    this.#timer = undefined;
    this.#dueMs = Number.POSITIVE_INFINITY;
    const nextMs = Math.min(this.#up.service(), this.#down.service());
    this.#updateGauge();
    if (nextMs < Number.POSITIVE_INFINITY) this.#schedule(nextMs);
  };

  #updateGauge(): void {
    this.#metrics?.qosWaitingFlows.set(this.#up.waitingFlows + this.#down.waitingFlows);
  }
}

function scaleLimits(limits: ClassLimits, share: number): ClassLimits {
  if (share >= 1) return limits;
  return {
    guaranteedBytesPerSec: limits.guaranteedBytesPerSec * share,
    maxBytesPerSec: limits.maxBytesPerSec === undefined ? undefined : limits.maxBytesPerSec * share,
    burstBytes: limits.burstBytes,
  };
}

/** One session's gates; swapped between shaped and unshaped by policy changes. */
class SessionShaping implements Shaping {
  up: FlowGate | null = null;
  down: FlowGate | null = null;
  #flows: { up: Flow; down: Flow } | null = null;
  #onChange: (() => void) | null = null;
  #released = false;

  constructor(
    readonly user: string,
    private readonly manager: QosManager,
  ) {}

  watch(onChange: () => void): void {
    this.#onChange = onChange;
  }

  release(): void {
    if (this.#released) return;
    this.#released = true;
    this.#closeFlows();
    this.manager.detach(this);
  }

  /** Shaped from now on (a no-op when already: the tree updated the user's limits in place). */
  shape(limits: ClassLimits): void {
    if (this.#released || this.#flows) return;
    this.#flows = this.manager.openFlows(this.user, limits);
    this.up = this.#flows.up;
    this.down = this.#flows.down;
    this.#onChange?.();
  }

  unshape(): void {
    if (!this.#flows) return;
    this.#closeFlows();
    this.#onChange?.();
  }

  #closeFlows(): void {
    this.#flows?.up.close();
    this.#flows?.down.close();
    this.#flows = null;
    this.up = null;
    this.down = null;
  }
}
