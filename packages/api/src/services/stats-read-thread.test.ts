import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { migrateDatabase, openDatabase } from "@edgesocks/db";
import { afterEach, describe, expect, it } from "vitest";
import { StatsReadThread } from "./stats-read-thread";

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe("StatsReadThread", () => {
  it("reads with a large page cache on every connection, so a busy user's rows stay cached between calls", async () => {
    const dir = mkdtempSync(join(tmpdir(), "edgesocks-stats-thread-"));
    dirs.push(dir);
    await using database = await openDatabase({ url: `file:${join(dir, "control.db")}` });
    await migrateDatabase(database);
    const thread = new StatsReadThread(database);
    // Two transactions open at once: the worker's client gives each its own connection.
    const [a, b] = await Promise.all([thread.transaction(), thread.transaction()]);
    try {
      for (const tx of [a, b]) {
        expect(await tx.execute({ sql: "PRAGMA cache_size", args: [] })).toEqual([-65_536]);
        expect(await tx.execute({ sql: "SELECT count(*) FROM sessions", args: [] })).toEqual([0]);
      }
    } finally {
      a.close();
      b.close();
    }
  });
});
