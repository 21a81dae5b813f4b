import type { SessionRecord } from "@edgesocks/api/wire";
import type { Logger } from "@edgesocks/telemetry";
import type { RelayMetrics } from "../metrics";
import { backoffDelayMs, sleep } from "../retry";
import type { Spool } from "../spool/spool";

export interface ShipperOptions {
  spool: Spool<SessionRecord>;
  /** Delivers one batch; resolves once the control plane has stored it. */
  send: (records: SessionRecord[]) => Promise<{ inserted: number; duplicates: number }>;
  logger: Logger;
  metrics: RelayMetrics;
  /** Records per batch at most. @default 1000 */
  batchSize?: number;
  /** A partial batch waits at most this long for more records. @default 1000 (ms) */
  batchAgeMs?: number;
}

/**
 * Moves closed session records from the spool to the control plane. The
 * spool cursor advances only after the control plane confirms a batch, so a
 * failure or a crash re-sends (ingest is idempotent by record id) and never
 * loses a record.
 */
export class SessionShipper {
  readonly #options: Required<Omit<ShipperOptions, "logger" | "metrics" | "spool" | "send">> &
    ShipperOptions;
  readonly #abort = new AbortController();
  #wake: (() => void) | undefined;
  #running: Promise<void> | undefined;
  #shipped = 0;
  #empty = false;

  constructor(options: ShipperOptions) {
    this.#options = { batchSize: 1000, batchAgeMs: 1000, ...options };
  }

  /** Records confirmed by the control plane since start. */
  get shipped(): number {
    return this.#shipped;
  }

  start(): void {
    this.#running ??= this.#loop().catch((error: unknown) => {
      if (!this.#abort.signal.aborted)
        this.#options.logger.error({ err: error }, "session shipper stopped");
    });
  }

  /** Tells the shipper a record was appended (wakes it only from an empty spool). */
  notify(): void {
    if (this.#empty) this.#wake?.();
  }

  async close(): Promise<void> {
    this.#abort.abort();
    this.#wake?.();
    await this.#running;
  }

  async #loop(): Promise<void> {
    const { spool, send, logger, metrics, batchSize, batchAgeMs } = this.#options;
    const signal = this.#abort.signal;
    let failures = 0;
    let partialSince: number | undefined;
    while (!signal.aborted) {
      metrics.spoolBacklogBytes.set(spool.backlogBytes());
      const batch = spool.read(batchSize);
      const { records } = batch;
      if (records.length === 0) {
        partialSince = undefined;
        this.#empty = true;
        await this.#idle(batchAgeMs);
        this.#empty = false;
        continue;
      }
      if (records.length < batchSize) {
        partialSince ??= Date.now();
        const waited = Date.now() - partialSince;
        if (waited < batchAgeMs) {
          await this.#idle(batchAgeMs - waited);
          continue;
        }
      }
      try {
        const result = await send(records);
        spool.commit(batch.next);
        this.#shipped += records.length;
        failures = 0;
        partialSince = undefined;
        logger.debug({ records: records.length, ...result }, "session batch delivered");
      } catch (error) {
        const delayMs = backoffDelayMs(failures++, { baseMs: 500, maxMs: 15_000 });
        logger.warn(
          {
            err: (error as Error).message,
            records: records.length,
            retryInMs: Math.round(delayMs),
          },
          "session batch not delivered; kept in the spool",
        );
        await sleep(delayMs, signal).catch(() => {});
      }
    }
  }

  #idle(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.#wake = done;
    });
  }
}
