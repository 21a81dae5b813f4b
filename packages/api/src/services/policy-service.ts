import { type Database, isUniqueViolation } from "@edgesocks/db";
import { auditLog, fleet, snapshots } from "@edgesocks/db/schema";
import { compileAcl, PolicyError, type PolicySnapshot, sealSnapshot } from "@edgesocks/policy";
import { desc, eq } from "drizzle-orm";
import { ApiError } from "../errors";
import { auditRow } from "./audit";
import { loadPolicyState, type PolicyState, policyWrites, stateToDraft } from "./policy-state";
import { diffSnapshots } from "./snapshot-diff";

/** A published snapshot as the hub and config.watch hand it out. */
export interface PublishedSnapshot {
  version: number;
  epoch: string;
  hash: string;
  snapshot: PolicySnapshot;
  createdBy: string;
  summary: string;
  createdAtMs: number;
}

export interface ChangeRequest<T> {
  /** Admin name, or "system". */
  actor: string;
  /** The procedure, e.g. `users.create`. */
  action: string;
  /** What is changed, e.g. `user alice`. */
  target: string;
  /**
   * Builds the new state from a private copy of the current one (mutate it freely). Throws an
   * ApiError to refuse (NOT_FOUND, CONFLICT, ...). `before`/`after` go into the audit log.
   */
  edit: (state: PolicyState) => { before?: unknown; after?: unknown; result: T };
}

/** Attempts at a change when another instance publishes a version in between. */
const MAX_ATTEMPTS = 5;

/** Names the user, group or rule an issue path points at: `rules[2] (id "web")`. */
function describePaths(message: string, state: PolicyState): string {
  return message.replace(
    /(?<![.\w])(users|groups|rules)\[(\d+)\]/g,
    (whole, list: string, index: string) => {
      const i = Number(index);
      const name =
        list === "users"
          ? state.users[i]?.username
          : list === "groups"
            ? state.groups[i]?.name
            : state.rules[i]?.id;
      const label = list === "users" ? "username" : list === "groups" ? "name" : "id";
      return name === undefined ? whole : `${whole} (${label} ${JSON.stringify(name)})`;
    },
  );
}

/** Seals and compiles `state` as a snapshot, or refuses with API_E_POLICY_INVALID. */
function compileState(
  state: PolicyState,
  meta: { version: number; epoch: string; createdAt: string },
): PolicySnapshot {
  const sealed = sealSnapshot(stateToDraft(state, meta));
  if (!sealed.ok) {
    throw new ApiError(
      "API_E_POLICY_INVALID",
      `the change would not compile, nothing was stored: ${describePaths(sealed.error, state)}`,
    );
  }
  try {
    compileAcl(sealed.snapshot);
  } catch (cause) {
    if (!(cause instanceof PolicyError)) throw cause;
    throw new ApiError(
      "API_E_POLICY_INVALID",
      `the change would not compile, nothing was stored: ${describePaths(cause.message, state)}`,
      { cause },
    );
  }
  return sealed.snapshot;
}

export function rowToPublished(row: typeof snapshots.$inferSelect): PublishedSnapshot {
  return {
    version: row.version,
    epoch: row.epoch,
    hash: row.hash,
    snapshot: JSON.parse(row.snapshotJson) as PolicySnapshot,
    createdBy: row.createdBy,
    summary: row.summary,
    createdAtMs: row.createdAtMs,
  };
}

/**
 * Turns policy edits into snapshot versions. A change is read, applied to a copy, sealed and
 * compiled with @edgesocks/policy, and only then written: the table changes, the new snapshot row
 * and the audit entry in one batch. The snapshot's version is the primary key, so when another
 * instance published in between, the batch fails as a whole and the change is redone on top.
 */
export class PolicyService {
  readonly #database: Database;
  readonly #onPublished: (snapshot: PublishedSnapshot) => void;
  #epoch: string | null = null;

  constructor(database: Database, onPublished: (snapshot: PublishedSnapshot) => void) {
    this.#database = database;
    this.#onPublished = onPublished;
  }

  async epoch(): Promise<string> {
    if (this.#epoch !== null) return this.#epoch;
    const row = await this.#database.db.select().from(fleet).where(eq(fleet.id, 1)).get();
    if (row === undefined)
      throw new ApiError("API_E_UNAVAILABLE", "the database has no fleet epoch yet");
    this.#epoch = row.epoch;
    return row.epoch;
  }

  async latestVersion(): Promise<number> {
    const row = await this.#database.db
      .select({ version: snapshots.version })
      .from(snapshots)
      .orderBy(desc(snapshots.version))
      .limit(1)
      .get();
    return row?.version ?? 0;
  }

  /**
   * What `change(request)` would publish, without storing anything: the diff from the current
   * policy to the edited one. Refuses, as change() does, an edit that would not compile.
   */
  async preview<T>(request: ChangeRequest<T>) {
    const epoch = await this.epoch();
    const [current, latest] = await Promise.all([
      loadPolicyState(this.#database.db),
      this.latestVersion(),
    ]);
    const next = structuredClone(current);
    const edited = request.edit(next);
    const createdAt = new Date().toISOString();
    const from = compileState(current, { version: Math.max(latest, 1), epoch, createdAt });
    const to = compileState(next, { version: latest + 1, epoch, createdAt });
    return { result: edited.result, diff: diffSnapshots(from, to) };
  }

  /** Applies one change as one new snapshot version. */
  async change<T>(request: ChangeRequest<T>): Promise<{ version: number; result: T }> {
    const { db, writes } = this.#database;
    const epoch = await this.epoch();
    for (let attempt = 1; ; attempt++) {
      const [current, latest] = await Promise.all([loadPolicyState(db), this.latestVersion()]);
      const next = structuredClone(current);
      const edited = request.edit(next);
      const version = latest + 1;
      const nowMs = Date.now();
      const snapshot = compileState(next, {
        version,
        epoch,
        createdAt: new Date(nowMs).toISOString(),
      });
      const row = {
        version,
        epoch,
        hash: snapshot.hash,
        snapshotJson: JSON.stringify(snapshot),
        createdBy: request.actor,
        summary: `${request.action} ${request.target}`,
        createdAtMs: nowMs,
      };
      try {
        await writes.run(() =>
          db.batch([
            // First: the version is the lock. A concurrent publish makes this fail, and the
            // batch rolls back before any table change.
            db.insert(snapshots).values(row),
            ...policyWrites(db, current, next, nowMs),
            db.insert(auditLog).values(
              auditRow({
                atMs: nowMs,
                actor: request.actor,
                action: request.action,
                target: request.target,
                before: edited.before,
                after: edited.after,
                snapshotVersion: version,
              }),
            ),
          ]),
        );
      } catch (cause) {
        if (isUniqueViolation(cause, "snapshots.version") && attempt < MAX_ATTEMPTS) continue;
        if (isUniqueViolation(cause)) {
          throw new ApiError("API_E_CONFLICT", `${request.target}: conflicting change, retry`, {
            cause,
          });
        }
        throw cause;
      }
      const { snapshotJson: _json, ...meta } = row;
      this.#onPublished({ ...meta, snapshot });
      return { version, result: edited.result };
    }
  }
}
