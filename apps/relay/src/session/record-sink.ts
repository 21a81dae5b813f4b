import type { Logger } from "@edgesocks/telemetry";
import type { BoundedLabel, RelayMetrics } from "../metrics";
import type { CheckedSpool } from "../spool/checked-spool";
import type { SessionRecord } from "./record";
import { isAggregatedRejection, RejectionAggregator } from "./rejection-aggregator";

/** Where every finished session's record goes: the one entry, for every thread. */
export interface RecordSink {
  add(record: SessionRecord): void;
}

/** Running totals for heartbeats (node-wide: records of every worker thread). */
export interface RecordTotals {
  sessionsTotal: number;
  rejectedTotal: number;
  bytesUp: number;
  bytesDown: number;
}

export interface NodeRecordsOptions {
  logger: Logger;
  metrics: RelayMetrics;
  /** Bounds the per-user byte counts; null: no per-user counts (`ops.user_metrics_limit = 0`). */
  userLabel: BoundedLabel | null;
  /** The state dir's spool (records checked against the wire schema first). */
  spool?: CheckedSpool | undefined;
  /** Also receives every record (the fleet shipper's tests, test relays). */
  listener?: ((record: SessionRecord) => void) | undefined;
}

/**
 * The node's record sink, in the main thread: every session record of every
 * thread (a worker thread posts its records to the main thread, which adds
 * them here) passes once through `add()`: its bytes join the closed totals, rejections
 * before a request are folded per reason, client and minute, the record is
 * logged, counted for heartbeats, spooled and handed to the listener.
 */
export class NodeRecords implements RecordSink {
  readonly totals: RecordTotals = { sessionsTotal: 0, rejectedTotal: 0, bytesUp: 0, bytesDown: 0 };
  /** Bytes of closed sessions (open ones are counted from the session registry). */
  readonly closedBytes = { up: 0, down: 0 };
  readonly closedPerUser = new Map<string, { up: number; down: number }>();
  readonly #options: NodeRecordsOptions;
  readonly #rejections: RejectionAggregator;

  constructor(options: NodeRecordsOptions) {
    this.#options = options;
    const { logger, metrics } = options;
    this.#rejections = new RejectionAggregator({
      emit: this.#emitFolded.bind(this),
      onDrop: (count) => {
        metrics.rejectionRecordsLimited.inc(count);
        logger.warn({ records: count }, "rejected-connection records over the per-minute limit");
      },
    });
  }

  add(record: SessionRecord): void {
    this.closedBytes.up += record.bytesUp;
    this.closedBytes.down += record.bytesDown;
    this.addUserBytes(this.closedPerUser, record.user, record.bytesUp, record.bytesDown);
    if (isAggregatedRejection(record)) return this.#rejections.add(record);
    this.#options.logger.info({ session: record }, "session end");
    this.#deliver(record);
  }

  /** Adds `up` and `down` to `user`'s entry of `map` (under the bounded label). */
  addUserBytes(
    map: Map<string, { up: number; down: number }>,
    user: string,
    up: number,
    down: number,
  ): void {
    const label = this.#options.userLabel;
    if (label === null) return;
    const key = label.of(user);
    const entry = map.get(key) ?? { up: 0, down: 0 };
    entry.up += up;
    entry.down += down;
    map.set(key, entry);
  }

  /** Emits what is still folded (shutdown). */
  close(): void {
    this.#rejections.close();
  }

  #emitFolded(record: SessionRecord): void {
    this.#options.logger.info({ session: record }, "connections rejected before a request");
    this.#deliver(record);
  }

  #deliver(record: SessionRecord): void {
    const { totals } = this;
    // A folded record of rejected connections stands for `count` of them.
    const count = record.count ?? 1;
    totals.sessionsTotal += count;
    if (record.status === "rejected") totals.rejectedTotal += count;
    totals.bytesUp += record.bytesUp;
    totals.bytesDown += record.bytesDown;
    this.#options.spool?.append(record);
    this.#options.listener?.(record);
  }
}
