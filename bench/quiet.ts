import { setTimeout as sleep } from "node:timers/promises";
import { machineBusySeconds } from "./proc-stats";

/**
 * On a shared machine other work steals CPU from the servers under test and
 * makes their figures low and noisy. The gate waits for quiet moments and
 * lets a contaminated run be repeated, within a fixed time budget so a busy
 * machine still finishes the bench in bounded time.
 */
export class QuietGate {
  #budgetMs: number;
  repeats = 0;

  /** @param budgetMs total time the whole bench may spend waiting and repeating, in ms */
  constructor(budgetMs: number) {
    this.#budgetMs = budgetMs;
  }

  get exhausted(): boolean {
    return this.#budgetMs <= 0;
  }

  /** Charges time spent repeating a run to the budget. */
  spend(ms: number): void {
    this.#budgetMs -= ms;
  }

  /**
   * Waits for a 1-second window in which the machine, apart from `ours`
   * (CPU seconds of the bench's processes so far), is busy less than
   * `thresholdPct` of a core; gives up after `maxMs` or when the budget is gone.
   * Returns the other processes' share of a core in the last window.
   */
  async waitForQuiet(ours: () => number, thresholdPct: number, maxMs: number): Promise<number> {
    const deadline = Date.now() + Math.min(maxMs, Math.max(0, this.#budgetMs));
    let foreignPct = 0;
    do {
      const started = Date.now();
      const machine = machineBusySeconds();
      const mine = ours();
      await sleep(1000);
      const wallS = (Date.now() - started) / 1000;
      foreignPct = (Math.max(0, machineBusySeconds() - machine - (ours() - mine)) / wallS) * 100;
      this.#budgetMs -= Date.now() - started;
    } while (foreignPct > thresholdPct && Date.now() < deadline);
    return foreignPct;
  }
}
