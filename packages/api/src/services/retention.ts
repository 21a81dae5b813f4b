import { CLAMP_ROLLUP_CURSOR_SQL, type Database } from "@edgesocks/db";
import { SESSION_ROLLUP_DIMENSIONS, SESSION_ROLLUP_STORED_GRAINS_MS } from "@edgesocks/db/schema";

const DAY_MS = 86_400_000;

export interface RetentionOptions {
  database: Database;
  /**
   * Sessions that started before this time (epoch ms) are deleted, in whole UTC days: it is
   * rounded down to midnight, so every rollup bucket goes with all of its sessions or stays.
   */
  cutoffMs: number;
  /** Rows per delete; each batch is its own short write, so ingest interleaves. @default 5000 */
  batchSize?: number;
}

/** Deletes old sessions, then their rollup buckets, in batches; returns how many sessions went. */
export async function deleteExpiredSessions(options: RetentionOptions): Promise<number> {
  const { database } = options;
  const cutoffMs = Math.floor(options.cutoffMs / DAY_MS) * DAY_MS;
  const batchSize = options.batchSize ?? 5000;
  let total = 0;
  for (;;) {
    const [result] = await database.writes.run(() =>
      database.client.batch(
        [
          {
            sql: "DELETE FROM sessions WHERE seq IN (SELECT seq FROM sessions WHERE started_at_ms < ? LIMIT ?)",
            args: [cutoffMs, batchSize],
          },
          // The newest row may have gone; a new one would then reuse its seq.
          CLAMP_ROLLUP_CURSOR_SQL,
        ],
        "write",
      ),
    );
    total += result!.rowsAffected;
    if (result!.rowsAffected < batchSize) break;
  }
  // A day of one dimension and grain per write.
  for (const dimension of SESSION_ROLLUP_DIMENSIONS) {
    for (const grainMs of SESSION_ROLLUP_STORED_GRAINS_MS[dimension]) {
      for (;;) {
        const result = await database.writes.run(() =>
          database.client.execute({
            sql: "DELETE FROM session_rollups WHERE dimension = ? AND grain_ms = ? AND bucket_ms < min(?, (SELECT min(bucket_ms) FROM session_rollups WHERE dimension = ? AND grain_ms = ?) + ?)",
            args: [dimension, grainMs, cutoffMs, dimension, grainMs, DAY_MS],
          }),
        );
        if (result.rowsAffected === 0) break;
      }
    }
  }
  return total;
}
