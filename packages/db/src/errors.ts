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
