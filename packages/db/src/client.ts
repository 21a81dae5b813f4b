import { chmodSync, closeSync, mkdirSync, openSync, statSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { type Client, createClient } from "@libsql/client";
import { drizzle, type LibSQLDatabase } from "drizzle-orm/libsql";
import { DbError } from "./errors";
import * as schema from "./schema/index";
import { WriteQueue } from "./write-queue";

export type Schema = typeof schema;
export type Db = LibSQLDatabase<Schema>;

/** The default DATABASE_URL: an embedded database file under ./data. */
export const DEFAULT_DATABASE_URL = "file:./data/control.db";

export interface DatabaseOptions {
  /** `file:path`, `libsql://…` (Turso, sqld), `http(s)://…` or `ws(s)://…`. @default "file:./data/control.db" */
  url?: string;
  /** Auth token for remote libSQL URLs. */
  authToken?: string | undefined;
  /** How long a `file:` connection waits for another writer's lock, in ms. @default 5000 */
  busyTimeoutMs?: number;
  /** Writes waiting in the in-process queue before new ones are refused. @default 10000 */
  maxPendingWrites?: number;
}

export interface Database extends AsyncDisposable {
  readonly url: string;
  /** True for `file:` URLs (embedded SQLite with WAL). */
  readonly isLocalFile: boolean;
  readonly client: Client;
  readonly db: Db;
  /** Every write of this process goes through here. */
  readonly writes: WriteQueue;
  /** Waits for queued writes, then closes the connections. */
  close(): Promise<void>;
}

function localPath(url: string): string | null {
  if (!url.startsWith("file:")) return null;
  const rest = url.slice("file:".length).split("?")[0]!;
  if (rest === "" || rest === ":memory:") return null;
  return rest.startsWith("//") ? rest.replace(/^\/\/[^/]*/, "") : rest;
}

/**
 * The database holds password and token hashes: its file is created 0600 before libSQL opens it
 * (SQLite gives the -wal and -shm files the database file's mode), in a 0700 folder when the
 * folder is new. Files left readable by others by an older version are tightened.
 */
function createPrivateFile(path: string): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  closeSync(openSync(path, "a", 0o600));
  for (const file of [path, `${path}-wal`, `${path}-shm`]) {
    const mode = statSync(file, { throwIfNoEntry: false })?.mode;
    if (mode !== undefined && (mode & 0o077) !== 0) chmodSync(file, 0o600);
  }
}

/** The page size of databases this opens new. */
const PAGE_SIZE = 8192;

/**
 * Opens the database at `url`. For `file:` URLs the folder is created, the journal switched to
 * WAL (readers never wait for the writer) and every connection gets a busy timeout, so a second
 * control-plane instance on the same file waits for the lock instead of failing.
 */
export async function openDatabase(options: DatabaseOptions = {}): Promise<Database> {
  const url = options.url ?? DEFAULT_DATABASE_URL;
  const path = localPath(url);
  const isLocalFile = url.startsWith("file:");
  if (!/^(file|libsql|https?|wss?):/.test(url)) {
    throw new DbError(
      "DB_E_CONFIG",
      `DATABASE_URL: "${url}" is not a libSQL URL (use file:PATH, libsql://HOST, https://HOST or wss://HOST)`,
    );
  }
  if (path !== null) createPrivateFile(resolve(path));
  let client: Client;
  try {
    client = createClient({
      url,
      ...(options.authToken ? { authToken: options.authToken } : {}),
      ...(isLocalFile ? { timeout: options.busyTimeoutMs ?? 5000 } : {}),
    });
  } catch (cause) {
    throw new DbError("DB_E_CONFIG", `DATABASE_URL: cannot open "${url}": ${String(cause)}`, {
      cause,
    });
  }
  if (path !== null) {
    // Only takes on a new, empty file (an existing database keeps its page size until a VACUUM).
    // Ingest's cost is mostly index pages changed per commit: 8 KiB pages measured 7% faster
    // than 4 KiB, and larger ones slower again (bench/control-bench.ts).
    await client.execute(`PRAGMA page_size = ${PAGE_SIZE}`);
    await client.execute("PRAGMA journal_mode = WAL");
  }
  const db = drizzle(client, { schema });
  const writes = new WriteQueue(
    options.maxPendingWrites === undefined ? {} : { maxPending: options.maxPendingWrites },
  );
  let closed: Promise<void> | null = null;
  const close = () => {
    closed ??= writes.close().finally(() => client.close());
    return closed;
  };
  return { url, isLocalFile, client, db, writes, close, [Symbol.asyncDispose]: close };
}
