import type { ConnectionLimitValues } from "../policy/policy-limits";

/** Why a request was over a limit; the suffix of the `rejected_total` reason. */
export type LimitReason =
  | "connection_limit_global"
  | "connection_limit_user"
  | "connection_limit_client";

/** A slot taken; `release()` gives it back (idempotent). */
export interface LimitSlot {
  readonly ok: true;
  release(): void;
}

export type LimitVerdict = LimitSlot | { ok: false; reason: LimitReason };

/** Where sessions take their slots: this thread's counts, or counts shared by worker threads. */
export interface SessionLimits {
  /** Takes a slot for `user` from `client`, or says which cap is full. */
  acquire(user: string, client: string, limits: ConnectionLimitValues): LimitVerdict;
}

/**
 * Counts sessions (CONNECT, BIND, UDP ASSOCIATE) from the request until the
 * session ends: globally, per user and per client address. The caps come with
 * each request (they follow the policy in force), so a lower cap applies to
 * the next request and never cuts sessions already running.
 */
export class ConnectionLimits implements SessionLimits {
  #global = 0;
  readonly #byUser = new Map<string, number>();
  readonly #byClient = new Map<string, number>();

  /** Takes a slot for `user` from `client`, or says which cap is full. */
  acquire(user: string, client: string, limits: ConnectionLimitValues): LimitVerdict {
    if (limits.global !== undefined && this.#global >= limits.global) {
      return { ok: false, reason: "connection_limit_global" };
    }
    if (limits.perUser !== undefined && (this.#byUser.get(user) ?? 0) >= limits.perUser) {
      return { ok: false, reason: "connection_limit_user" };
    }
    if (limits.perClient !== undefined && (this.#byClient.get(client) ?? 0) >= limits.perClient) {
      return { ok: false, reason: "connection_limit_client" };
    }
    this.#global += 1;
    increment(this.#byUser, user);
    increment(this.#byClient, client);
    return new HeldSlot(this, user, client);
  }

  /** @internal see Slot.release */
  give(user: string, client: string): void {
    this.#global -= 1;
    decrement(this.#byUser, user);
    decrement(this.#byClient, client);
  }

  get global(): number {
    return this.#global;
  }

  user(name: string): number {
    return this.#byUser.get(name) ?? 0;
  }

  client(address: string): number {
    return this.#byClient.get(address) ?? 0;
  }
}

function increment(counts: Map<string, number>, key: string): void {
  counts.set(key, (counts.get(key) ?? 0) + 1);
}

// Keys at zero are deleted, so the maps hold only users and addresses with sessions.
function decrement(counts: Map<string, number>, key: string): void {
  const next = (counts.get(key) ?? 1) - 1;
  if (next <= 0) counts.delete(key);
  else counts.set(key, next);
}

/** A class, not a closure per session: sessions are the hot path. */
export class HeldSlot implements LimitSlot {
  readonly ok = true;
  #released = false;

  constructor(
    private readonly limits: { give(user: string, client: string): void },
    private readonly user: string,
    private readonly client: string,
  ) {}

  release(): void {
    if (this.#released) return;
    this.#released = true;
    this.limits.give(this.user, this.client);
  }
}
