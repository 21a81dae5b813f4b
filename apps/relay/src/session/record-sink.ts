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

/**
 * The sink of one thread's sessions: their bytes join this thread's closed
 * totals at once (the byte metrics are per thread, open sessions counted from
 * the registry, so a closing session's bytes never drop out of the sum), then
 * the record goes on to the node's sink (`next`: NodeRecords in the main
 * thread; in a worker thread, a message to the main thread's).
 */
export class ThreadRecords implements RecordSink {
  /** Bytes of this thread's closed sessions. */
  readonly closedBytes = { up: 0, down: 0 };
  readonly closedPerUser = new Map<string, { up: number; down: number }>();

  constructor(
    readonly next: RecordSink,
    /** Bounds the per-user byte counts; null: none (`ops.user_metrics_limit = 0`). */
    readonly userLabel: BoundedLabel | null,
  ) {}

  add(record: SessionRecord): void {
    this.closedBytes.up += record.bytesUp;
    this.closedBytes.down += record.bytesDown;
    this.addUserBytes(this.closedPerUser, record.user, record.bytesUp, record.bytesDown);
    this.next.add(record);
  }

  /** Adds `up` and `down` to `user`'s entry of `map` (under the bounded label). */
  addUserBytes(
    map: Map<string, { up: number; down: number }>,
    user: string,
    up: number,
    down: number,
  ): void {
    if (this.userLabel === null) return;
    const key = this.userLabel.of(user);
    const entry = map.get(key) ?? { up: 0, down: 0 };
    entry.up += up;
    entry.down += down;
    map.set(key, entry);
  }
}

export interface NodeRecordsOptions {
  logger: Logger;
  metrics: RelayMetrics;
  /** The state dir's spool (records checked against the wire schema first). */
  spool?: CheckedSpool | undefined;
  /** Also receives every record (test relays). */
  listener?: ((record: SessionRecord) => void) | undefined;
}

/**
 * The node's record sink, in the main thread: every session record of every
 * thread (a worker thread posts its records to the main thread, which adds
 * them here) passes once through `add()`: rejections before a request are
 * folded per reason, client and minute, the record is logged, counted for
 * heartbeats, spooled and handed to the listener.
 */
export class NodeRecords implements RecordSink {
  readonly totals: RecordTotals = { sessionsTotal: 0, rejectedTotal: 0, bytesUp: 0, bytesDown: 0 };
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
    if (isAggregatedRejection(record)) return this.#rejections.add(record);
    this.#options.logger.info({ session: record }, "session end");
    this.#deliver(record);
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
