import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { startHranaServer } from "../../../e2e/support/hrana-server";
import { openDatabase } from "./client";
import { WriteThread } from "./write-thread";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

describe.each(["file", "http"] as const)("WriteThread (%s:)", (kind) => {
  /** A fresh database file, or a libSQL server (Hrana over HTTP) over one. */
  async function tempUrl(): Promise<string> {
    const dir = mkdtempSync(join(tmpdir(), "edgesocks-write-thread-"));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    if (kind === "file") return `file:${join(dir, "control.db")}`;
    const server = await startHranaServer({ path: join(dir, "control.db") });
    cleanups.push(() => server.close());
    return server.url;
  }

  it("runs a batch as one transaction on its own connection and returns rows as arrays", async () => {
    await using database = await openDatabase({ url: await tempUrl() });
    await database.client.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)");
    await using thread = new WriteThread({ database });
    const results = await thread.batch([
      { sql: "INSERT INTO t (v) VALUES (?), (?)", args: ["a", "b"] },
      { sql: "SELECT changes(), count(*) FROM t", args: [] },
    ]);
    expect(results[0]?.rowsAffected).toBe(2);
    expect(results[1]?.rows).toEqual([[2, 2]]);
    // The main connection sees the commit.
    const seen = await database.client.execute("SELECT group_concat(v) FROM t");
    expect(seen.rows[0]?.[0]).toBe("a,b");
  });

  it("rolls the whole batch back when a statement fails, and reports the SQLite code", async () => {
    await using database = await openDatabase({ url: await tempUrl() });
    await database.client.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)");
    await using thread = new WriteThread({ database });
    const failed = await thread
      .batch([
        { sql: "INSERT INTO t (v) VALUES ('kept?')", args: [] },
        { sql: "INSERT INTO t (v) VALUES (NULL)", args: [] },
      ])
      .catch((error: unknown) => error);
    expect((failed as { code?: string }).code).toMatch(/^SQLITE_CONSTRAINT/);
    const count = await database.client.execute("SELECT count(*) FROM t");
    expect(count.rows[0]?.[0]).toBe(0);
    // The thread is still usable.
    await thread.batch([{ sql: "INSERT INTO t (v) VALUES ('next')", args: [] }]);
  });

  it("refuses batches once closed", async () => {
    await using database = await openDatabase({ url: await tempUrl() });
    const thread = new WriteThread({ database });
    await thread.batch([{ sql: "CREATE TABLE t (id INTEGER PRIMARY KEY)", args: [] }]);
    await thread.close();
    const refused = await thread.batch([]).catch((error: unknown) => error);
    expect((refused as { code?: string }).code).toBe("DB_E_QUEUE_CLOSED");
  });
});
