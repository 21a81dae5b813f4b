import { type Clock, monotonicClock } from "../token-bucket";

export type PendingDrop = "evicted" | "timeout";

export interface PendingHandshakesOptions {
  /** Connections in their SOCKS handshake at once; the oldest is dropped to admit a new one. */
  maxPending: number;
  /** The same per client address: past it, that address's own oldest handshake is dropped. */
  maxPendingPerClient: number;
  /** From accept to a complete request, however slowly the bytes trickle in (ms). */
  timeoutMs: number;
  clock?: Clock;
  /** Sees the number pending after every change (a gauge). */
  onSize?: (pending: number) => void;
}

export interface PendingTicket {
  /** The handshake ended (request complete, refused or closed); idempotent. */
  done(): void;
}

// A class rather than an object with a `done` closure: one allocation per handshake, no closure.
class Entry implements PendingTicket {
  live = true;

  constructor(
    private readonly table: PendingHandshakes,
    readonly client: string,
    readonly admittedMs: number,
    readonly drop: (why: PendingDrop) => void,
  ) {}

  done(): void {
    this.table.remove(this);
  }
}

/**
 * Bounds the connections that have not finished their handshake, so a
 * slow-loris flood cannot hold the relay: a handshake gets `timeoutMs` in
 * total (not per byte), and when the table is full the oldest handshake makes
 * room for the newest. An honest client finishes in one round trip, so it is
 * never the oldest for long; a flooder's own sockets are the ones that go.
 * One coarse timer sweeps the table (entries are in admission order, so a
 * sweep only looks at the expired ones).
 */
export class PendingHandshakes {
  readonly #options: PendingHandshakesOptions;
  readonly #clock: Clock;
  readonly #all = new Set<Entry>();
  readonly #byClient = new Map<string, Set<Entry>>();
  #timer: NodeJS.Timeout | undefined;
  readonly #sweepMs: number;

  constructor(options: PendingHandshakesOptions) {
    this.#options = options;
    this.#clock = options.clock ?? monotonicClock;
    this.#sweepMs = Math.min(1000, Math.max(25, Math.floor(options.timeoutMs / 4)));
  }

  get size(): number {
    return this.#all.size;
  }

  /** Registers a new connection; `drop` runs if it is evicted or times out (after it left the table). */
  admit(client: string, drop: (why: PendingDrop) => void): PendingTicket {
    const { maxPending, maxPendingPerClient } = this.#options;
    const mine = this.#byClient.get(client);
    if (mine && mine.size >= maxPendingPerClient) this.#drop(first(mine)!, "evicted");
    while (this.#all.size >= maxPending) this.#drop(first(this.#all)!, "evicted");
    const entry = new Entry(this, client, this.#clock(), drop);
    this.#all.add(entry);
    let set = this.#byClient.get(client);
    if (!set) {
      set = new Set();
      this.#byClient.set(client, set);
    }
    set.add(entry);
    this.#options.onSize?.(this.#all.size);
    this.#timer ??= setTimeout(this.#onTimer, this.#sweepMs).unref();
    return entry;
  }

  /** Drops every handshake older than the timeout; the timer calls this. */
  sweep(): void {
    const deadline = this.#clock() - this.#options.timeoutMs;
    for (const entry of this.#all) {
      if (entry.admittedMs > deadline) break;
      this.#drop(entry, "timeout");
    }
  }

  close(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #onTimer = (): void => {
    this.#timer = undefined;
    this.sweep();
    if (this.#all.size > 0) this.#timer = setTimeout(this.#onTimer, this.#sweepMs).unref();
  };

  #drop(entry: Entry, why: PendingDrop): void {
    this.remove(entry);
    entry.drop(why);
  }

  /** @internal see Entry.done */
  remove(entry: Entry): void {
    if (!entry.live) return;
    entry.live = false;
    this.#all.delete(entry);
    const set = this.#byClient.get(entry.client);
    set?.delete(entry);
    if (set?.size === 0) this.#byClient.delete(entry.client);
    this.#options.onSize?.(this.#all.size);
  }
}

function first<T>(set: Set<T>): T | undefined {
  return set.values().next().value;
}
