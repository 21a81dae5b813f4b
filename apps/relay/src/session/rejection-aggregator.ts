import type { SessionRecord } from "./record";

export interface RejectionAggregatorOptions {
  /** Receives the records: the first of each key at once, the fold of the rest at the window's end. */
  emit: (record: SessionRecord) => void;
  /** Told how many rejections it gave up because the window already holds `maxKeys` keys. */
  onDrop: (count: number) => void;
  /** @default 60000 (ms) */
  windowMs?: number;
  /** Distinct (reason, client address) pairs per window at most. @default 1000 */
  maxKeys?: number;
}

/**
 * Close reasons of connections turned away before a SOCKS request, which carry nothing but
 * the reason and the client: a flood of half-open connections must not become one row each.
 * (An auth failure names the user it tried and keeps its own record.)
 */
const AGGREGATED =
  /^(max_connections|no_policy|handshake_timeout|handshake_evicted|client_closed_during_handshake|client_error:|protocol_error:)/;

/** True for a record that becomes part of a per-minute count. */
export function isAggregatedRejection(record: SessionRecord): boolean {
  return (
    record.status === "rejected" && record.command === null && AGGREGATED.test(record.closeReason)
  );
}

/**
 * Rejected-before-request records, at most two per (reason, client address) per minute: the
 * first one as it happens, then one for all the others of that minute with `count` set (its
 * time span runs from the second one's start to the last one's end). At most `maxKeys` keys
 * per window: a flood from many addresses is bounded too, and what it turns away is counted.
 */
export class RejectionAggregator {
  readonly #options: Required<RejectionAggregatorOptions>;
  /** Per key: null once its first record went out, then the fold of the ones after it. */
  #window = new Map<string, (SessionRecord & { count: number }) | null>();
  #dropped = 0;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(options: RejectionAggregatorOptions) {
    this.#options = { windowMs: 60_000, maxKeys: 1000, ...options };
  }

  add(record: SessionRecord): void {
    if (this.#closed) return this.#options.emit(record);
    // The user too: a refusal after a login keeps the name it was made under.
    const key = `${record.closeReason}\u0000${record.clientAddress}\u0000${record.user}`;
    const held = this.#window.get(key);
    if (held === undefined) {
      if (this.#window.size >= this.#options.maxKeys) {
        this.#dropped += record.count ?? 1;
        return;
      }
      // The first of a key goes out at once (an operator sees it now); the rest of the
      // minute is folded into one more record.
      this.#window.set(key, null);
      this.#schedule();
      return this.#options.emit(record);
    }
    if (held === null) {
      this.#window.set(key, { ...record, count: record.count ?? 1 });
      return;
    }
    held.count += record.count ?? 1;
    held.endedAt = record.endedAt;
    held.durationMs = Math.max(0, Date.parse(held.endedAt) - Date.parse(held.startedAt));
    held.bytesUp += record.bytesUp;
    held.bytesDown += record.bytesDown;
  }

  /** Emits the window now (the minute ended, or the relay is closing). */
  flush(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const window = this.#window;
    this.#window = new Map();
    for (const record of window.values()) if (record !== null) this.#options.emit(record);
    if (this.#dropped > 0) this.#options.onDrop(this.#dropped);
    this.#dropped = 0;
  }

  /** Emits the window; rejections after this (sockets closing at shutdown) go out one by one. */
  close(): void {
    this.#closed = true;
    this.flush();
  }

  /** The window closes at the next multiple of windowMs (whole minutes on the wall clock). */
  #schedule(): void {
    if (this.#timer !== undefined) return;
    const { windowMs } = this.#options;
    this.#timer = setTimeout(() => this.flush(), windowMs - (Date.now() % windowMs));
    this.#timer.unref();
  }
}
