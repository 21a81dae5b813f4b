import type { SessionRecord } from "@edgesocks/api/wire";
import type { Logger } from "@edgesocks/telemetry";
import type { RelayMetrics } from "../metrics";
import { retry } from "../retry";
import type { Quarantine } from "../spool/quarantine";
import type { Spool } from "../spool/spool";

export interface ShipperOptions {
  spool: Spool<SessionRecord>;
  /** Where records the control plane refuses as invalid go (they are never sent again). */
  quarantine: Quarantine;
  /** Delivers one batch; resolves once the control plane has stored it. */
  send: (records: SessionRecord[]) => Promise<{ inserted: number; duplicates: number }>;
  logger: Logger;
  metrics: RelayMetrics;
  /** Records per batch at most. @default 1000 */
  batchSize?: number;
  /** A partial batch waits at most this long for more records. @default 1000 (ms) */
  batchAgeMs?: number;
  /** Back-off after a transient failure: first ceiling. @default 500 (ms) */
  retryBaseMs?: number;
  /** Back-off ceiling. @default 15000 (ms) */
  retryMaxMs?: number;
}

/** tRPC error codes that say the batch itself is wrong: sending it again cannot help. */
const PERMANENT_CODES = new Set([
  "BAD_REQUEST",
  "PARSE_ERROR",
  "PAYLOAD_TOO_LARGE",
  "UNPROCESSABLE_CONTENT",
]);

/** True for a refusal of the batch's content; anything else (network, auth, 5xx) is transient. */
export function isPermanentRefusal(error: unknown): boolean {
  const code = (error as { data?: { code?: unknown } } | null)?.data?.code;
  return typeof code === "string" && PERMANENT_CODES.has(code);
}

/**
 * Moves closed session records from the spool to the control plane. The
 * spool cursor advances only after the control plane confirms a batch, so a
 * transient failure or a crash re-sends (ingest is idempotent by record id)
 * and never loses a record. A batch refused as invalid is split until the
 * refused records are found; those go to the quarantine file and shipping
 * carries on with the rest. Woken by the spool when records arrive.
 */
export class SessionShipper {
  readonly #options: Required<Omit<ShipperOptions, "logger" | "metrics" | "spool" | "send">> &
    ShipperOptions;
  readonly #abort = new AbortController();
  readonly #unsubscribe: () => void;
  #wake: (() => void) | undefined;
  #running: Promise<void> | undefined;
  #shipped = 0;
  #empty = false;

  constructor(options: ShipperOptions) {
    this.#options = {
      batchSize: 1000,
      batchAgeMs: 1000,
      retryBaseMs: 500,
      retryMaxMs: 15_000,
      ...options,
    };
    this.#unsubscribe = options.spool.onRecords(() => this.#notify());
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

  /** Records were written: wakes the shipper, only from an empty spool. */
  #notify(): void {
    if (this.#empty) this.#wake?.();
  }

  async close(): Promise<void> {
    this.#unsubscribe();
    this.#abort.abort();
    this.#wake?.();
    await this.#running;
  }

  async #loop(): Promise<void> {
    const { spool, logger, batchSize, batchAgeMs, retryBaseMs, retryMaxMs } = this.#options;
    const signal = this.#abort.signal;
    let partialSince: number | undefined;
    while (!signal.aborted) {
      const batch = spool.read(batchSize);
      const { records } = batch;
      if (records.length === 0) {
        // Only unreadable lines (quarantined by the read): step past them.
        const { cursor } = spool;
        if (batch.next.segment !== cursor.segment || batch.next.offset !== cursor.offset)
          spool.commit(batch.next);
        partialSince = undefined;
        this.#empty = true;
        await this.#idle();
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
        await retry(() => this.#deliver(records), {
          baseMs: retryBaseMs,
          maxMs: retryMaxMs,
          signal,
          onError: (error, _attempt, delayMs) =>
            logger.warn(
              {
                err: (error as Error).message,
                records: records.length,
                retryInMs: Math.round(delayMs),
              },
              "session batch not delivered; kept in the spool",
            ),
        });
      } catch {
        return; // aborted: close() was called
      }
      spool.commit(batch.next);
      partialSince = undefined;
    }
  }

  /**
   * Sends `records`; a permanent refusal is narrowed down by halves, so only the records ingest
   * refuses are quarantined. Throws on a transient failure (the caller retries it all: records
   * already stored come back as duplicates).
   */
  async #deliver(records: SessionRecord[]): Promise<void> {
    const { send, quarantine, logger, metrics } = this.#options;
    try {
      const result = await send(records);
      this.#shipped += records.length;
      logger.debug({ records: records.length, ...result }, "session batch delivered");
    } catch (error) {
      if (!isPermanentRefusal(error)) throw error;
      if (records.length > 1) {
        const half = Math.ceil(records.length / 2);
        await this.#deliver(records.slice(0, half));
        await this.#deliver(records.slice(half));
        return;
      }
      const reason = `refused: ${(error as Error).message.slice(0, 2000)}`;
      const outcome = quarantine.add(reason, [{ record: records[0] }]);
      if (outcome === "disk_error") throw error; // kept in the spool until it can be moved
      metrics.recordsQuarantined.inc({ reason: "refused" });
      logger.error(
        { session: records[0]?.id, reason, quarantine: quarantine.path },
        "session record refused by the control plane; quarantined",
      );
    }
  }

  /** Waits for `ms`, or (none given) until records arrive; close() ends the wait too. */
  #idle(ms?: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#wake = undefined;
        resolve();
      };
      const timer = ms === undefined ? undefined : setTimeout(done, ms);
      this.#wake = done;
    });
  }
}
