import type { InStatement } from "@libsql/client";
import type { Database } from "./client";
import {
  SESSION_ROLLUP_DIMENSIONS,
  SESSION_ROLLUP_STORED_GRAINS_MS,
} from "./schema/session-rollups";

/** Session rows one rollup pass takes, at most (by seq range). @default 100000 */
export const DEFAULT_ROLLUP_PASS_ROWS = 100_000;

/** `value` rounded down to a multiple of `grainMs` in SQL (floor, also for negative times). */
export function bucketSql(column: string, grainMs: number): string {
  return `(${column} - ((${column} % ${grainMs}) + ${grainMs}) % ${grainMs})`;
}

const KEY_SQL = {
  node: "''",
  user: "user",
  host: "destination_host",
  country: "destination_country",
} as const;
/** Sessions without the dimension's key are not counted under it. */
const KEY_WHERE = {
  node: "",
  user: "",
  host: " WHERE destination_host IS NOT NULL",
  country: " WHERE destination_country IS NOT NULL",
} as const;

function passSql(): string {
  const arms = SESSION_ROLLUP_DIMENSIONS.flatMap((dimension) =>
    SESSION_ROLLUP_STORED_GRAINS_MS[dimension].map(
      (grainMs) =>
        `SELECT '${dimension}', ${grainMs}, ${bucketSql("started_at_ms", grainMs)}, ${KEY_SQL[dimension]}, node, region, count(*), sum(bytes_up), sum(bytes_down), sum(status IS 'rejected'), sum(status IS 'failed'), sum(decision IS 'allow'), sum(decision IS 'block'), (SELECT hi FROM span) FROM fresh${KEY_WHERE[dimension]} GROUP BY 3, 4, 5, 6`,
    ),
  );
  return [
    "INSERT INTO session_rollups (dimension, grain_ms, bucket_ms, key, node, region, sessions, bytes_up, bytes_down, rejected, failed, allowed, blocked, last_seq)",
    "WITH span AS MATERIALIZED (SELECT seq AS lo, min(seq + ?, (SELECT coalesce(max(seq), 0) FROM sessions)) AS hi FROM session_rollup_cursor WHERE id = 1),",
    "fresh AS MATERIALIZED (SELECT started_at_ms, coalesce(node, '') AS node, coalesce(region, '') AS region, user, destination_host, destination_country, bytes_up, bytes_down, status, decision FROM sessions WHERE seq > (SELECT lo FROM span) AND seq <= (SELECT hi FROM span))",
    `SELECT * FROM (${arms.join(" UNION ALL ")}) WHERE true`,
    "ON CONFLICT DO UPDATE SET sessions = sessions + excluded.sessions, bytes_up = bytes_up + excluded.bytes_up, bytes_down = bytes_down + excluded.bytes_down, rejected = rejected + excluded.rejected, failed = failed + excluded.failed, allowed = allowed + excluded.allowed, blocked = blocked + excluded.blocked, last_seq = excluded.last_seq",
  ].join(" ");
}

const PASS_SQL = passSql();
const ADVANCE_SQL =
  "UPDATE session_rollup_cursor SET seq = min(seq + ?, (SELECT coalesce(max(seq), 0) FROM sessions)) WHERE id = 1 AND seq < (SELECT coalesce(max(seq), 0) FROM sessions)";
const BACKLOG_SQL =
  "SELECT (SELECT coalesce(max(seq), 0) FROM sessions) - (SELECT seq FROM session_rollup_cursor WHERE id = 1)";

/**
 * One rollup pass as a write batch: counts the sessions past the cursor (at most `maxRows` of
 * seq range) into session_rollups and moves the cursor past them, in one transaction, so every
 * session is counted exactly once whichever instance runs the pass. The last statement returns
 * how many seqs are still past the cursor.
 */
export function rollupPassStatements(maxRows = DEFAULT_ROLLUP_PASS_ROWS): InStatement[] {
  return [
    { sql: PASS_SQL, args: [maxRows] },
    { sql: ADVANCE_SQL, args: [maxRows] },
    { sql: BACKLOG_SQL, args: [] },
  ];
}

/**
 * Keeps the cursor at or below the newest seq after sessions were deleted: SQLite gives a new
 * row max(seq) + 1, so a cursor past the newest row would skip the next ones. Run it in the
 * same write as the delete.
 */
export const CLAMP_ROLLUP_CURSOR_SQL =
  "UPDATE session_rollup_cursor SET seq = (SELECT coalesce(max(seq), 0) FROM sessions) WHERE id = 1 AND seq > (SELECT coalesce(max(seq), 0) FROM sessions)";

/** Seqs past the rollup cursor (sessions only readers of `sessions` see so far). */
export async function rollupBacklog(database: Database): Promise<number> {
  const result = await database.client.execute(BACKLOG_SQL);
  return Number(result.rows[0]?.[0] ?? 0);
}

/**
 * Runs rollup passes through the write queue until every session is counted (after a bulk load,
 * or to catch up at once instead of in the background).
 */
export async function catchUpSessionRollups(
  database: Database,
  maxRowsPerPass = DEFAULT_ROLLUP_PASS_ROWS,
): Promise<void> {
  for (;;) {
    const results = await database.writes.run(() =>
      database.client.batch(rollupPassStatements(maxRowsPerPass), "write"),
    );
    if (Number(results.at(-1)?.rows[0]?.[0] ?? 0) <= 0) return;
  }
}
