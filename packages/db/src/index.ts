export {
  type Database,
  type DatabaseOptions,
  type Db,
  DEFAULT_DATABASE_URL,
  openDatabase,
  type Schema,
} from "./client";
export {
  DB_ERROR_CODES,
  DbError,
  type DbErrorCode,
  errorText,
  isUniqueViolation,
  type SqliteErrorKind,
  sqliteErrorKind,
} from "./errors";
export {
  checkJournal,
  type JournalEntry,
  MIGRATIONS_FOLDER,
  migrateDatabase,
  readJournal,
} from "./migrate";
export {
  bucketSql,
  CLAMP_ROLLUP_CURSOR_SQL,
  catchUpSessionRollups,
  DEFAULT_ROLLUP_PASS_ROWS,
  rollupBacklog,
  rollupPassStatements,
} from "./rollups";
export * as schema from "./schema/index";
export { WriteQueue, type WriteQueueOptions } from "./write-queue";
export { type WriteBatchResult, WriteThread, type WriteThreadOptions } from "./write-thread";
