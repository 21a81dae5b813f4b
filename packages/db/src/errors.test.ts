import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { startHranaServer } from "../../../e2e/support/hrana-server";
import { openDatabase } from "./client";
import { isUniqueViolation, sqliteErrorKind } from "./errors";
import { WriteThread } from "./write-thread";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function tempPath(): string {
  const dir = mkdtempSync(join(tmpdir(), "edgesocks-db-errors-"));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return join(dir, "control.db");
}

const TABLE =
  "CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT UNIQUE, v TEXT NOT NULL, n INT CHECK (n > 0))";
/** Each failing statement and the kind its error must be classified as. */
const FAILURES = [
  ["a duplicate primary key", "INSERT INTO t VALUES (1, 'b', 'v', 1)", "unique"],
  ["a duplicate unique column", "INSERT INTO t VALUES (2, 'a', 'v', 1)", "unique"],
  ["a NOT NULL column left null", "INSERT INTO t VALUES (3, 'c', NULL, 1)", "constraint"],
  ["a failed CHECK", "INSERT INTO t VALUES (4, 'd', 'v', 0)", "constraint"],
  ["a syntax error", "INSERT INTO nowhere VALUES (1)", null],
] as const;

async function failure(run: () => Promise<unknown>): Promise<unknown> {
  return run().then(
    () => expect.fail("the statement succeeded"),
    (error: unknown) => error,
  );
}

describe.each(["file", "http"] as const)("sqliteErrorKind (%s:)", (kind) => {
  async function open() {
    const path = tempPath();
    let url = `file:${path}`;
    if (kind === "http") {
      const server = await startHranaServer({ path });
      cleanups.push(() => server.close());
      url = server.url;
    }
    const database = await openDatabase({ url });
    cleanups.push(() => database.close());
    await database.client.execute(TABLE);
    await database.client.execute("INSERT INTO t VALUES (1, 'a', 'v', 1)");
    return database;
  }

  it.each(FAILURES)(
    "classifies %s by its code, from the client, drizzle and the write thread",
    async (_, sql, expected) => {
      const database = await open();
      await using thread = new WriteThread({ database });
      const errors = [
        await failure(() => database.client.execute(sql)),
        await failure(() => database.db.run(sql)),
        await failure(() => thread.batch([{ sql, args: [] }])),
      ];
      for (const error of errors) expect(sqliteErrorKind(error), String(error)).toBe(expected);
    },
  );

  it("names the column of a duplicate key", async () => {
    const database = await open();
    const error = await failure(() => database.db.run("INSERT INTO t VALUES (2, 'a', 'v', 1)"));
    expect(isUniqueViolation(error, "t.name")).toBe(true);
    expect(isUniqueViolation(error, "t.id")).toBe(false);
    expect(isUniqueViolation(error)).toBe(true);
  });
});

describe("sqliteErrorKind", () => {
  it("classifies a write refused while another connection holds the lock as busy", async () => {
    const path = tempPath();
    await using holder = await openDatabase({ url: `file:${path}` });
    await using waiter = await openDatabase({ url: `file:${path}`, busyTimeoutMs: 1 });
    await holder.client.execute(TABLE);
    const transaction = await holder.client.transaction("write");
    await transaction.execute("INSERT INTO t VALUES (1, 'a', 'v', 1)");
    try {
      const error = await failure(() => waiter.db.run("INSERT INTO t VALUES (2, 'b', 'v', 1)"));
      expect(sqliteErrorKind(error), String(error)).toBe("busy");
      expect(isUniqueViolation(error)).toBe(false);
    } finally {
      await transaction.rollback();
    }
  });

  it("falls back to the message when no error in the chain carries a code", () => {
    const wrapped = (message: string) => new Error("insert failed", { cause: new Error(message) });
    expect(sqliteErrorKind(wrapped("UNIQUE constraint failed: nodes.name"))).toBe("unique");
    expect(sqliteErrorKind(wrapped("database is locked"))).toBe("busy");
    expect(sqliteErrorKind(wrapped("database table is locked: t"))).toBe("busy");
    expect(sqliteErrorKind(wrapped("NOT NULL constraint failed: t.v"))).toBe("constraint");
    expect(sqliteErrorKind(wrapped("connection reset"))).toBe(null);
    expect(sqliteErrorKind("not an error")).toBe(null);
  });

  it("trusts a code over a message that mentions another kind", () => {
    const error = Object.assign(new Error("UNIQUE constraint failed (quoted by a user)"), {
      code: "SQLITE_BUSY",
      rawCode: 5,
    });
    expect(sqliteErrorKind(error)).toBe("busy");
  });
});
