import type { Logger } from "@edgesocks/telemetry";
import type { Principal, TokenResolver } from "./token-resolver";

/** One open WebSocket and the principal its token resolved to when it opened. */
export interface GuardedConnection {
  readonly token: string;
  readonly principal: Principal;
  /** Ends the socket (and every subscription on it). */
  close(reason: string): void;
}

export interface ConnectionGuardOptions {
  tokens: TokenResolver;
  logger: Logger;
  /** How often every open socket's token is looked up again, in ms. @default 1000 */
  intervalMs?: number;
}

/** True when both name the same token holder with the same rights. */
export function samePrincipal(a: Principal, b: Principal | null): boolean {
  if (b === null || a.kind !== b.kind) return false;
  if (a.kind === "node") return b.kind === "node" && a.nodeId === b.nodeId;
  return b.kind === "admin" && a.tokenId === b.tokenId && a.role === b.role;
}

/**
 * Closes a WebSocket once its token no longer resolves to the principal it opened with
 * (revoked, admin disabled or role changed, node replaced, disabled or removed). Calls are
 * re-checked on their own (trpc.ts); this ends the long-lived subscriptions, within
 * `intervalMs` for changes made on any instance and at once for changes made on this one.
 */
export class ConnectionGuard {
  readonly #tokens: TokenResolver;
  readonly #logger: Logger;
  readonly #intervalMs: number;
  readonly #open = new Set<GuardedConnection>();
  #timer: NodeJS.Timeout | null = null;
  #sweeping: Promise<void> | null = null;
  #again = false;
  readonly #stopListening: () => void;

  constructor(options: ConnectionGuardOptions) {
    this.#tokens = options.tokens;
    this.#logger = options.logger;
    this.#intervalMs = options.intervalMs ?? 1000;
    this.#stopListening = this.#tokens.onInvalidate(() => void this.sweep());
  }

  get size(): number {
    return this.#open.size;
  }

  /** Watches `connection` until the returned function is called (when the socket closes). */
  add(connection: GuardedConnection): () => void {
    this.#open.add(connection);
    return () => this.#open.delete(connection);
  }

  start(): void {
    this.#timer ??= setInterval(() => void this.sweep(), this.#intervalMs);
    this.#timer.unref();
  }

  /** Re-checks every open socket now; a sweep asked for during one runs right after it. */
  sweep(): Promise<void> {
    if (this.#sweeping !== null) {
      this.#again = true;
      return this.#sweeping;
    }
    this.#sweeping = (async () => {
      do {
        this.#again = false;
        await this.#checkAll();
      } while (this.#again);
    })().finally(() => {
      this.#sweeping = null;
    });
    return this.#sweeping;
  }

  async #checkAll(): Promise<void> {
    const byToken = new Map<string, GuardedConnection[]>();
    for (const connection of this.#open) {
      const list = byToken.get(connection.token);
      if (list === undefined) byToken.set(connection.token, [connection]);
      else list.push(connection);
    }
    for (const [token, connections] of byToken) {
      let now: Principal | null;
      try {
        now = await this.#tokens.lookup(token);
      } catch (error) {
        // The database did not answer: keep the sockets; calls are still checked one by one.
        this.#logger.warn({ err: String(error) }, "re-checking an open socket's token failed");
        continue;
      }
      for (const connection of connections) {
        if (samePrincipal(connection.principal, now)) continue;
        this.#open.delete(connection);
        const who = connection.principal;
        this.#logger.info(
          { kind: who.kind, name: who.name },
          "closing a WebSocket whose token lost its rights",
        );
        connection.close("token revoked or rights changed");
      }
    }
  }

  close(): void {
    this.#stopListening();
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
    this.#open.clear();
  }
}
