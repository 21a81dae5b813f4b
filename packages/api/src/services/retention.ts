import type { Database } from "@edgesocks/db";

export interface RetentionOptions {
  database: Database;
  /** Sessions that started before this time (epoch ms) are deleted. */
  cutoffMs: number;
  /** Rows per delete; each batch is its own short write, so ingest interleaves. @default 5000 */
  batchSize?: number;
}

/** Deletes old sessions in batches; returns how many rows went. */
export async function deleteExpiredSessions(options: RetentionOptions): Promise<number> {
  const { database, cutoffMs } = options;
  const batchSize = options.batchSize ?? 5000;
  let total = 0;
  for (;;) {
    const result = await database.writes.run(() =>
      database.client.execute({
        sql: "DELETE FROM sessions WHERE seq IN (SELECT seq FROM sessions WHERE started_at_ms < ? LIMIT ?)",
        args: [cutoffMs, batchSize],
      }),
    );
    total += result.rowsAffected;
    if (result.rowsAffected < batchSize) return total;
  }
}
