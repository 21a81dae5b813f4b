import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { sql } from "drizzle-orm";
import { afterEach, describe, expect, it } from "vitest";
import { openDatabase } from "./client";
import { migrateDatabase } from "./migrate";
import { fleet } from "./schema/index";

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function tempUrl(): string {
  const dir = mkdtempSync(join(tmpdir(), "edgesocks-db-"));
  dirs.push(dir);
  return `file:${join(dir, "nested", "control.db")}`;
}

describe("openDatabase", () => {
  it("creates the folder, switches a file database to WAL and applies migrations", async () => {
    await using database = await openDatabase({ url: tempUrl() });
    expect(database.isLocalFile).toBe(true);
    const mode = await database.client.execute("PRAGMA journal_mode");
    expect(mode.rows[0]?.[0]).toBe("wal");
    await migrateDatabase(database);
    await migrateDatabase(database); // a second run is a no-op
    const tables = await database.client.execute(
      "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name",
    );
    const names = tables.rows.map((row) => row[0]);
    for (const table of ["sessions", "snapshots", "nodes", "audit_log", "api_tokens", "fleet"]) {
      expect(names).toContain(table);
    }
  });

  it("gives a new database 8 KiB pages and leaves an existing one's page size alone", async () => {
    const url = tempUrl();
    {
      await using database = await openDatabase({ url });
      await migrateDatabase(database);
      const size = await database.client.execute("PRAGMA page_size");
      expect(size.rows[0]?.[0]).toBe(8192);
    }
    const older = `file:${join(dirname(url.slice("file:".length)), "older.db")}`;
    {
      // A database made before (4 KiB pages, tables in it) is opened as it is.
      const { createClient } = await import("@libsql/client");
      const client = createClient({ url: older });
      await client.execute("PRAGMA page_size = 4096");
      await client.execute("CREATE TABLE t (x)");
      client.close();
    }
    await using database = await openDatabase({ url: older });
    const size = await database.client.execute("PRAGMA page_size");
    expect(size.rows[0]?.[0]).toBe(4096);
  });

  it("keeps the database, its -wal and -shm files 0600 from the first write", async () => {
    const url = tempUrl();
    const path = url.slice("file:".length);
    const umask = process.umask(0o022);
    try {
      await using database = await openDatabase({ url });
      await migrateDatabase(database);
      for (const file of [path, `${path}-wal`, `${path}-shm`]) {
        expect((statSync(file).mode & 0o777).toString(8), file).toBe("600");
      }
      expect((statSync(dirname(path)).mode & 0o777).toString(8)).toBe("700");
    } finally {
      process.umask(umask);
    }
  });

  it("waits for another process's write lock instead of failing (busy timeout)", async () => {
    const url = tempUrl();
    await using database = await openDatabase({ url });
    await migrateDatabase(database);
    // Another process, as a second control-plane instance would be: it holds the write lock
    // for 300 ms. (Inside one process a busy wait would block the event loop that must commit.)
    const holder = spawn(
      process.execPath,
      [
        "--input-type=module",
        "-e",
        `import { createClient } from "@libsql/client";
         const client = createClient({ url: ${JSON.stringify(url)} });
         const tx = await client.transaction("write");
         await tx.execute("INSERT INTO fleet (id, epoch, created_at_ms) VALUES (1, 'a', 0)");
         console.log("locked");
         await new Promise((r) => setTimeout(r, 300));
         await tx.commit();
         client.close();`,
      ],
      { cwd: fileURLToPath(new URL(".", import.meta.url)), stdio: ["ignore", "pipe", "inherit"] },
    );
    await new Promise<void>((resolve) => holder.stdout.once("data", () => resolve()));
    await database.db.insert(fleet).values({ id: 2, epoch: "b", createdAtMs: 0 });
    const count = await database.db.get<{ n: number }>(sql`SELECT count(*) AS n FROM fleet`);
    expect(count?.n).toBe(2);
    await new Promise((resolve) => holder.once("exit", resolve));
  });

  it("refuses a URL that is not libSQL with DB_E_CONFIG", async () => {
    await expect(openDatabase({ url: "postgres://x" })).rejects.toMatchObject({
      code: "DB_E_CONFIG",
    });
  });
});
