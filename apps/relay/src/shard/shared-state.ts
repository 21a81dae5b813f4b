import { randomFillSync } from "node:crypto";
import type { ConnectionGate } from "../limits/connection-gate";
import {
  HeldSlot,
  type LimitReason,
  type LimitVerdict,
  type SessionLimits,
} from "../limits/connection-limits";
import type { ConnectionLimitValues } from "../policy/policy-limits";
import type { QosShare } from "../qos/qos-manager";
import { QuotaLedger } from "../quota/quota-ledger";
import { TICKET_KEYS_BYTES } from "../server/ticket-renewal";
import { SharedLock, SharedTable } from "./shared-table";

/** TLS session-ticket keys (Node's ticketKeys: name, HMAC and AES keys), in 32-bit ints. */
const TICKET_KEY_INTS = TICKET_KEYS_BYTES / 4;

export interface SharedStateSize {
  /** Threads sharing the state (the main thread included). */
  shards: number;
  /** Distinct users, and client addresses, with open sessions at once. */
  keys: number;
}

/**
 * The counts that must hold across every thread of one relay: open client
 * connections (server.max_connections), sessions globally, per user and per
 * client address (connection limits), and each thread's busy sessions per
 * shaped user (so a user's rates are split between the threads it uses).
 * One SharedArrayBuffer handed to every worker thread. Every count keeps one
 * column per thread, so a thread that dies can be taken out of every count.
 */
export class SharedRelayState {
  readonly buffer: SharedArrayBuffer;
  readonly shard: number;
  readonly shards: number;
  readonly #view: Int32Array;
  readonly #lock: SharedLock;
  // Header: [lock][connections × shards][sessions × shards][busy weight × shards].
  readonly #connections: number;
  readonly #sessions: number;
  readonly #weights: number;
  readonly #users: SharedTable;
  readonly #clients: SharedTable;
  readonly #demand: SharedTable;
  /** Traffic quota counts (their own buffer: 64-bit counters). */
  readonly quota: QuotaLedger;
  readonly #ticketKeys: Uint8Array;

  static create(size: SharedStateSize): SharedRelayState {
    const rows = rowsFor(size.keys);
    const ints = 1 + 3 * size.shards + 3 * SharedTable.ints(rows, size.shards) + TICKET_KEY_INTS;
    const state = new SharedRelayState(
      new SharedArrayBuffer(ints * 4),
      0,
      size,
      QuotaLedger.create().buffer,
    );
    randomFillSync(state.#ticketKeys);
    return state;
  }

  /** The state in `buffer` (and quota counts in `quotaBuffer`), seen by thread `shard`. */
  constructor(
    buffer: SharedArrayBuffer,
    shard: number,
    size: SharedStateSize,
    quotaBuffer: SharedArrayBuffer,
  ) {
    this.buffer = buffer;
    this.quota = new QuotaLedger(quotaBuffer);
    this.shard = shard;
    this.shards = size.shards;
    this.#view = new Int32Array(buffer);
    this.#lock = new SharedLock(this.#view, 0);
    this.#connections = 1;
    this.#sessions = 1 + size.shards;
    this.#weights = 1 + 2 * size.shards;
    const rows = rowsFor(size.keys);
    const tableInts = SharedTable.ints(rows, size.shards);
    let offset = 1 + 3 * size.shards;
    this.#users = new SharedTable(this.#view, offset, rows, size.shards);
    offset += tableInts;
    this.#clients = new SharedTable(this.#view, offset, rows, size.shards);
    offset += tableInts;
    this.#demand = new SharedTable(this.#view, offset, rows, size.shards);
    offset += tableInts;
    this.#ticketKeys = new Uint8Array(buffer, offset * 4, TICKET_KEY_INTS * 4);
  }

  /**
   * The TLS session-ticket keys every thread's TLS server uses, made once per
   * relay process: a returning client resumes on whichever thread the kernel
   * hands its connection to (each thread's own random keys would make half
   * of them, on two threads, do a full handshake).
   */
  ticketKeys(): Buffer {
    return Buffer.from(this.#ticketKeys);
  }

  /** server.max_connections across every thread's listeners. */
  connectionGate(): ConnectionGate {
    const view = this.#view;
    const mine = this.#connections + this.shard;
    const sum = () => this.#sum(this.#connections);
    return {
      // Optimistic: count first, then check; two threads racing at the cap may
      // both refuse, but the cap is never exceeded.
      tryOpen(max: number): boolean {
        Atomics.add(view, mine, 1);
        if (sum() <= max) return true;
        Atomics.sub(view, mine, 1);
        return false;
      },
      close(): void {
        Atomics.sub(view, mine, 1);
      },
      get active(): number {
        return sum();
      },
    };
  }

  /** Connection limits (global, per user, per client) across every thread. */
  sessionLimits(): SessionLimits {
    return { acquire: (user, client, limits) => this.#acquire(user, client, limits) };
  }

  /** Splits shaped users' rates and the global rate between threads by their busy sessions. */
  qosShare(): QosShare {
    return {
      publish: (weights) => this.#publish(weights),
      userShare: (user, sessions) => this.#userShare(user, sessions),
      globalShare: (sessions) => this.#globalShare(sessions),
    };
  }

  /** Thread `shard` died: nothing it counted is open any more. */
  releaseShard(shard: number): void {
    this.#lock.run(() => {
      Atomics.store(this.#view, this.#connections + shard, 0);
      Atomics.store(this.#view, this.#sessions + shard, 0);
      Atomics.store(this.#view, this.#weights + shard, 0);
      this.#users.clearColumn(shard);
      this.#clients.clearColumn(shard);
      this.#demand.clearColumn(shard);
    });
  }

  #acquire(user: string, client: string, limits: ConnectionLimitValues): LimitVerdict {
    this.#lock.lock();
    try {
      const reason = this.#take(user, client, limits);
      return reason === null ? new HeldSlot(this.#slots, user, client) : { ok: false, reason };
    } finally {
      this.#lock.unlock();
    }
  }

  /** Under the lock: takes the slot, or says which cap is full. */
  #take(user: string, client: string, limits: ConnectionLimitValues): LimitReason | null {
    const users = this.#users;
    const clients = this.#clients;
    if (limits.global !== undefined && this.#sum(this.#sessions) >= limits.global) {
      return "connection_limit_global";
    }
    if (limits.perUser !== undefined && totalOf(users, user) >= limits.perUser) {
      return "connection_limit_user";
    }
    if (limits.perClient !== undefined && totalOf(clients, client) >= limits.perClient) {
      return "connection_limit_client";
    }
    const u = users.upsert(user);
    const c = clients.upsert(client);
    // Full tables mean more distinct keys than connections allowed; refuse rather than miscount.
    if (u < 0 || c < 0) {
      if (u >= 0) users.prune(u);
      if (c >= 0) clients.prune(c);
      return "connection_limit_global";
    }
    this.#view[this.#sessions + this.shard]! += 1;
    users.set(u, this.shard, users.get(u, this.shard) + 1);
    clients.set(c, this.shard, clients.get(c, this.shard) + 1);
    return null;
  }

  readonly #slots = {
    give: (user: string, client: string): void => {
      this.#lock.lock();
      try {
        this.#view[this.#sessions + this.shard]! -= 1;
        decrement(this.#users, user, this.shard);
        decrement(this.#clients, client, this.shard);
      } finally {
        this.#lock.unlock();
      }
    },
  };

  #publish(weights: ReadonlyMap<string, number>): void {
    const demand = this.#demand;
    const shard = this.shard;
    this.#lock.run(() => {
      let total = 0;
      for (const [user, weight] of weights) {
        const row = weight > 0 ? demand.upsert(user) : demand.find(user);
        if (row < 0) continue;
        demand.set(row, shard, weight);
        total += weight;
        demand.prune(row);
      }
      Atomics.store(this.#view, this.#weights + shard, total);
    });
  }

  #userShare(user: string, sessions: number): number {
    const demand = this.#demand;
    return this.#lock.run(() => {
      const row = demand.find(user);
      if (row < 0) return shareOf(0, 0, sessions);
      return shareOf(demand.get(row, this.shard), demand.total(row), sessions);
    });
  }

  #globalShare(sessions: number): number {
    return shareOf(
      Atomics.load(this.#view, this.#weights + this.shard),
      this.#sum(this.#weights),
      sessions,
    );
  }

  #sum(base: number): number {
    let total = 0;
    for (let s = 0; s < this.shards; s++) total += Atomics.load(this.#view, base + s);
    return total;
  }
}

/**
 * This thread's fraction: its published weight over all weights. A thread
 * that has not published a weight yet but has sessions gets the share it
 * would have once it does, so traffic starting here is not starved for one
 * period (the sum may exceed the rate by that much for one period).
 */
function shareOf(mine: number, total: number, sessions: number): number {
  if (mine > 0) return mine / total;
  if (sessions === 0) return 1;
  return sessions / (total + sessions);
}

function totalOf(table: SharedTable, key: string): number {
  const row = table.find(key);
  return row < 0 ? 0 : table.total(row);
}

function decrement(table: SharedTable, key: string, shard: number): void {
  const row = table.find(key);
  if (row < 0) return;
  table.set(row, shard, table.get(row, shard) - 1);
  table.prune(row);
}

function rowsFor(keys: number): number {
  // At most half full, so probe runs stay short.
  let rows = 64;
  while (rows < keys * 2) rows *= 2;
  return rows;
}
