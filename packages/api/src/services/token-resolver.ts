import type { Database } from "@edgesocks/db";
import { type AdminRole, admins, apiTokens, nodes } from "@edgesocks/db/schema";
import { and, eq, isNull } from "drizzle-orm";
import { hashToken } from "../tokens";

/** Who a valid token belongs to. */
export type Principal =
  | { kind: "admin"; adminId: number; tokenId: number; name: string; role: AdminRole }
  | { kind: "node"; nodeId: number; name: string; region: string; tokenHash: string };

export interface TokenResolverOptions {
  database: Database;
  /** How long a lookup (hit or miss) is reused, in ms; a token revoked on another instance stops working within it. @default 1000 */
  cacheTtlMs?: number;
  /** Cached lookups at most. @default 10000 */
  maxCached?: number;
}

/** Resolves `esa_…` and `esn_…` bearer tokens by their sha256, with a short-lived cache. */
export class TokenResolver {
  readonly #database: Database;
  readonly #ttlMs: number;
  readonly #maxCached: number;
  readonly #cache = new Map<string, { principal: Principal | null; expiresAtMs: number }>();
  readonly #onInvalidate = new Set<() => void>();

  constructor(options: TokenResolverOptions) {
    this.#database = options.database;
    this.#ttlMs = options.cacheTtlMs ?? 1000;
    this.#maxCached = options.maxCached ?? 10_000;
  }

  async resolve(token: string): Promise<Principal | null> {
    const hash = hashToken(token);
    const nowMs = Date.now();
    const cached = this.#cache.get(hash);
    if (cached !== undefined && cached.expiresAtMs > nowMs) return cached.principal;
    return this.lookup(token);
  }

  /** Reads the database now (no cache) and caches the answer. */
  async lookup(token: string): Promise<Principal | null> {
    const hash = hashToken(token);
    const principal = await this.#lookup(token, hash);
    if (this.#cache.size >= this.#maxCached) this.#cache.clear();
    this.#cache.set(hash, { principal, expiresAtMs: Date.now() + this.#ttlMs });
    return principal;
  }

  /**
   * Forgets every cached lookup and tells the listeners (the connection guard re-checks open
   * sockets): call after any change to who a token belongs to, made on this instance.
   */
  invalidate(): void {
    this.#cache.clear();
    for (const listener of this.#onInvalidate) listener();
  }

  /** Calls `listener` after every invalidate(); returns the function that stops it. */
  onInvalidate(listener: () => void): () => void {
    this.#onInvalidate.add(listener);
    return () => this.#onInvalidate.delete(listener);
  }

  async #lookup(token: string, hash: string): Promise<Principal | null> {
    const { db } = this.#database;
    if (token.startsWith("esa_")) {
      const row = await db
        .select({
          tokenId: apiTokens.id,
          adminId: admins.id,
          name: admins.name,
          role: admins.role,
        })
        .from(apiTokens)
        .innerJoin(admins, eq(apiTokens.adminId, admins.id))
        .where(
          and(
            eq(apiTokens.tokenHash, hash),
            isNull(apiTokens.revokedAtMs),
            isNull(admins.disabledAtMs),
          ),
        )
        .get();
      return row === undefined ? null : { kind: "admin", ...row };
    }
    if (token.startsWith("esn_")) {
      const row = await db
        .select({ nodeId: nodes.id, name: nodes.name, region: nodes.region })
        .from(nodes)
        .where(and(eq(nodes.nodeTokenHash, hash), isNull(nodes.disabledAtMs)))
        .get();
      return row === undefined ? null : { kind: "node", ...row, tokenHash: hash };
    }
    return null;
  }
}
