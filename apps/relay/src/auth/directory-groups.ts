import { LRUCache } from "lru-cache";
import type { ChildPool } from "./child-pool";
import { pamUsernameProblem } from "./pam";

/** A user's groups as the system's name service (files, LDAP via nslcd/sssd) knows them. */
export type GroupLookup = { ok: true; groups: readonly string[] } | { ok: false; reason: string };

export interface DirectoryGroupsOptions {
  pool: ChildPool;
  /** How long a user's groups are remembered. @default 300000 (ms) */
  ttlMs?: number;
  /** The id binary. @default "/usr/bin/id" */
  idPath?: string;
}

/**
 * `[auth] group_source = "nss"`: a user's groups from `id -Gnz USER` in a child
 * process (getgrouplist through NSS, which may ask a directory over the network:
 * never on the event loop or the threadpool). NUL-separated, so names with
 * spaces such as "Domain Users" stay whole. Which of them count is up to the
 * policy (see CompiledAcl.policyGroups).
 */
export class DirectoryGroups {
  readonly #pool: ChildPool;
  readonly #idPath: string;
  readonly #cache: LRUCache<string, readonly string[]>;
  readonly #ttlMs: number;

  constructor(options: DirectoryGroupsOptions) {
    this.#pool = options.pool;
    this.#idPath = options.idPath ?? "/usr/bin/id";
    this.#ttlMs = options.ttlMs ?? 300_000;
    // ttl 0 would mean forever to lru-cache; here it means never remember.
    this.#cache = new LRUCache({ max: 10_000, ttl: Math.max(1, this.#ttlMs) });
  }

  async lookup(username: string): Promise<GroupLookup> {
    const cached = this.#cache.get(username);
    if (cached) return { ok: true, groups: cached };
    const problem = pamUsernameProblem(username);
    if (problem) return { ok: false, reason: `username ${problem}` };
    const run = await this.#pool.run(this.#idPath, ["-Gnz", "--", username]);
    if (run.kind !== "exited") return { ok: false, reason: `group lookup ${run.kind}` };
    if (run.code !== 0) {
      return { ok: false, reason: run.stderr.trim().slice(0, 200) || `id exited with ${run.code}` };
    }
    const groups = Object.freeze(run.stdout.split("\0").filter((g) => g.length > 0));
    if (this.#ttlMs > 0) this.#cache.set(username, groups);
    return { ok: true, groups };
  }

  clear(): void {
    this.#cache.clear();
  }
}
