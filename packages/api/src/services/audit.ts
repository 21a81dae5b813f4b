import type { auditLog } from "@edgesocks/db/schema";

/** What an audit row shows in place of a secret or a hash. */
export const REDACTED = "changed" as const;

/** Keys whose values are secrets or hashes of secrets: never stored in the audit log. */
const SECRET_KEY = /(password|token|secret)/i;

/**
 * A copy of `value` with every secret-named field replaced by "changed" (a field that is null or
 * absent stays so, so "has no password" still reads). Nested objects and arrays are walked.
 */
export function redactSecrets(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(redactSecrets);
  if (value === null || typeof value !== "object") return value;
  return Object.fromEntries(
    Object.entries(value).map(([key, field]) => [
      key,
      SECRET_KEY.test(key) && field !== null && field !== undefined && typeof field !== "boolean"
        ? REDACTED
        : redactSecrets(field),
    ]),
  );
}

export interface AuditEntry {
  /** Admin name, `node <name>` for a relay, or "system". */
  actor: string;
  /** The procedure, e.g. `nodes.enroll`. */
  action: string;
  /** What it changed, e.g. `node relay-eu-1`. */
  target: string;
  before?: unknown;
  after?: unknown;
  snapshotVersion?: number;
  /** @default Date.now() */
  atMs?: number;
}

/** One audit_log row, secrets redacted: `db.insert(auditLog).values(auditRow(...))`. */
export function auditRow(entry: AuditEntry): typeof auditLog.$inferInsert {
  return {
    atMs: entry.atMs ?? Date.now(),
    actor: entry.actor,
    action: entry.action,
    target: entry.target,
    before: entry.before === undefined ? null : redactSecrets(entry.before),
    after: entry.after === undefined ? null : redactSecrets(entry.after),
    snapshotVersion: entry.snapshotVersion ?? null,
  };
}
