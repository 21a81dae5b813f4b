/**
 * Every code a database error can carry. Callers match on these, never on messages, so a code is
 * never renamed once shipped.
 */
export const DB_ERROR_CODES = [
  "DB_E_CONFIG",
  "DB_E_QUEUE_FULL",
  "DB_E_QUEUE_CLOSED",
  "DB_E_MIGRATE",
  "DB_E_WRITE_THREAD",
] as const;

export type DbErrorCode = (typeof DB_ERROR_CODES)[number];

export class DbError extends Error {
  override readonly name = "DbError";
  readonly code: DbErrorCode;

  constructor(code: DbErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
  }
}

/**
 * What a SQLite or libSQL error means to a caller: `busy` (another writer holds the lock:
 * SQLITE_BUSY, SQLITE_LOCKED), `unique` (a duplicate key: SQLITE_CONSTRAINT_UNIQUE or
 * _PRIMARYKEY) or `constraint` (any other constraint: NOT NULL, CHECK, FOREIGN KEY, ...).
 */
export type SqliteErrorKind = "busy" | "unique" | "constraint";

/** SQLite's primary result codes (the low byte of an extended code). */
const PRIMARY = { 5: "busy", 6: "busy", 19: "constraint" } as const;
/** Extended codes of a duplicate key. */
const UNIQUE_RAW_CODES = new Set([1555, 2067]);

/** The error and its causes, outermost first (drizzle wraps the driver's error in one). */
function chain(error: unknown): unknown[] {
  const errors: unknown[] = [];
  for (let current = error; current != null && errors.length < 5; ) {
    errors.push(current);
    current = current instanceof Error ? current.cause : undefined;
  }
  return errors;
}

function kindOfCode(code: unknown, rawCode: unknown): SqliteErrorKind | "constraint?" | null {
  if (typeof rawCode === "number") {
    if (UNIQUE_RAW_CODES.has(rawCode)) return "unique";
    return PRIMARY[(rawCode & 0xff) as keyof typeof PRIMARY] ?? null;
  }
  if (typeof code !== "string") return null;
  if (/^SQLITE_(BUSY|LOCKED)/.test(code)) return "busy";
  if (/^SQLITE_CONSTRAINT_(UNIQUE|PRIMARYKEY)$/.test(code)) return "unique";
  // A primary code alone (the write thread passes only `code`) does not say which constraint.
  if (code === "SQLITE_CONSTRAINT") return "constraint?";
  if (code.startsWith("SQLITE_CONSTRAINT_")) return "constraint";
  return null;
}

function kindOfText(text: string): SqliteErrorKind | null {
  if (/UNIQUE constraint failed|PRIMARY KEY must be unique/.test(text)) return "unique";
  if (/database is locked|database table is locked|SQLITE_BUSY|SQLITE_LOCKED/.test(text)) {
    return "busy";
  }
  if (/constraint failed|SQLITE_CONSTRAINT/.test(text)) return "constraint";
  return null;
}

/**
 * Classifies a database error by the libSQL `code`/`rawCode` of it or its causes; by its message
 * only when no cause carries a code (errors rebuilt from text), or to tell a bare
 * SQLITE_CONSTRAINT apart. null: not one of these kinds.
 */
export function sqliteErrorKind(error: unknown): SqliteErrorKind | null {
  for (const e of chain(error)) {
    const { code, rawCode } = e as { code?: unknown; rawCode?: unknown };
    const kind = kindOfCode(code, rawCode);
    if (kind === "constraint?") {
      return kindOfText(errorText(error)) === "unique" ? "unique" : "constraint";
    }
    if (kind !== null) return kind;
  }
  return kindOfText(errorText(error));
}

/** The messages of an error and its causes, joined. */
export function errorText(error: unknown): string {
  return chain(error)
    .map((e) => (e instanceof Error ? e.message : String(e)))
    .join(" <- ");
}

/**
 * True when `error` is SQLite refusing a duplicate key, on `column` (`table.column`, which SQLite
 * names only in its message) when given.
 */
export function isUniqueViolation(error: unknown, column?: string): boolean {
  return (
    sqliteErrorKind(error) === "unique" &&
    (column === undefined || errorText(error).includes(column))
  );
}
