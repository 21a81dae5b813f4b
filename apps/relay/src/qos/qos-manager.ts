import type { PolicySnapshot } from "@edgesocks/policy";
import type { RelayMetrics } from "../metrics";
import type { PolicyStore } from "../policy/policy-store";
import type { FlowGate, Shaping } from "../session/pipe";
import { type ClassLimits, type Flow, HtbTree, type TreeSettings } from "./htb";
import { classLimits, treeSettings } from "./policy-limits";
import { type Clock, monotonicClock } from "./token-bucket";

export interface QosManagerOptions {
  policy: PolicyStore;
  metrics?: RelayMetrics | undefined;
  /** Shortest wait between two services of the shaper (the timer's granularity). @default 10 (ms) */
  tickMs?: number;
  clock?: Clock;
}

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
  #snapshot: PolicySnapshot | undefined;
  #timer: NodeJS.Timeout | undefined;
  #dueMs = Number.POSITIVE_INFINITY;

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
    if (options.policy.loaded) this.#apply(options.policy.current.snapshot);
    this.#unsubscribe = options.policy.onChange((next) => this.#apply(next.snapshot));
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
    const limits = this.#snapshot ? classLimits(this.#snapshot, user) : null;
    if (limits) session.shape(limits);
    return session;
  }

  close(): void {
    this.#unsubscribe();
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

  #apply(snapshot: PolicySnapshot): void {
    this.#snapshot = snapshot;
    const settings = treeSettings(snapshot) ?? UNSHAPED;
    this.#up.configure(settings);
    this.#down.configure(settings);
    for (const [user, sessions] of this.#sessions) {
      const limits = classLimits(snapshot, user);
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
