import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Client, createClient } from "@libsql/client";
import { afterEach, describe, expect, it } from "vitest";
import { type HranaServer, type HranaServerOptions, startHranaServer } from "./hrana-server";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function server(options: Partial<HranaServerOptions> = {}): Promise<HranaServer> {
  const dir = mkdtempSync(join(tmpdir(), "edgesocks-hrana-"));
  const started = await startHranaServer({ path: join(dir, "db.sqlite"), ...options });
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  cleanups.push(() => started.close());
  return started;
}

function client(url: string, extra: { authToken?: string; intMode?: "bigint" } = {}): Client {
  const c = createClient({ url, ...extra });
  cleanups.push(() => c.close());
  return c;
}

/** One raw pipeline request, for what @libsql/client does not send on its own. */
async function pipeline(url: string, baton: string | null, requests: unknown[]) {
  const response = await fetch(`${url}/v3/pipeline`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ baton, requests }),
  });
  return {
    status: response.status, // biome-ignore lint/suspicious/noExplicitAny: raw protocol JSON, asserted field by field
    body: (await response.json()) as Record<string, any>,
  };
}

describe("the Hrana test server, with @libsql/client over HTTP", () => {
  it("round-trips every value type: 64-bit integers as strings, floats, text, blobs, null", async () => {
    const hrana = await server();
    const db = client(hrana.url, { intMode: "bigint" });
    await db.execute("CREATE TABLE v (i INTEGER, f REAL, t TEXT, b BLOB, n)");
    const blob = new Uint8Array([0, 1, 254, 255]);
    await db.execute({
      sql: "INSERT INTO v VALUES (?, ?, ?, ?, ?)",
      args: [9_007_199_254_740_993n, 1.5, "żółw ✓", blob, null],
    });
    const { rows, columns } = await db.execute("SELECT i, f, t, b, n, typeof(i), typeof(f) FROM v");
    expect(columns).toEqual(["i", "f", "t", "b", "n", "typeof(i)", "typeof(f)"]);
    const row = rows[0]!;
    expect(row.i).toBe(9_007_199_254_740_993n);
    expect(row.f).toBe(1.5);
    expect(row.t).toBe("żółw ✓");
    expect(new Uint8Array(row.b as ArrayBuffer)).toEqual(blob);
    expect(row.n).toBeNull();
    expect([row["typeof(i)"], row["typeof(f)"]]).toEqual(["integer", "real"]);
    const named = await db.execute({ sql: "SELECT :a + $b AS s", args: { a: 2n, b: 3n } });
    expect(named.rows[0]?.s).toBe(5n);
  });

  it("keeps a transaction's rows to its own baton until COMMIT, and discards them on rollback", async () => {
    const hrana = await server();
    const a = client(hrana.url);
    const b = client(hrana.url);
    await a.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, who TEXT)");
    const tx = await a.transaction("write");
    for (let i = 0; i < 3; i++) {
      await tx.execute({ sql: "INSERT INTO t (who) VALUES (?)", args: ["a"] }); // stored SQL after the first
    }
    expect((await tx.execute("SELECT count(*) AS n FROM t")).rows[0]?.n).toBe(3);
    expect((await b.execute("SELECT count(*) AS n FROM t")).rows[0]?.n).toBe(0);
    await tx.commit();
    expect((await b.execute("SELECT count(*) AS n FROM t")).rows[0]?.n).toBe(3);

    const undo = await a.transaction("write");
    await undo.execute("DELETE FROM t");
    await undo.rollback();
    undo.close();
    expect((await b.execute("SELECT count(*) AS n FROM t")).rows[0]?.n).toBe(3);
    await new Promise((r) => setTimeout(r, 50)); // the client's close request is fire-and-forget
    expect(hrana.openStreams).toBe(0);
  });

  it("runs a write batch as one transaction: a failing statement rolls the whole batch back", async () => {
    const hrana = await server();
    const db = client(hrana.url);
    await db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY)");
    const results = await db.batch(
      ["INSERT INTO t VALUES (1)", "INSERT INTO t VALUES (2)"],
      "write",
    );
    expect(results.map((r) => r.rowsAffected)).toEqual([1, 1]);
    expect(results[1]?.lastInsertRowid).toBe(2n);
    await expect(
      db.batch(["INSERT INTO t VALUES (3)", "INSERT INTO t VALUES (1)"], "write"),
    ).rejects.toMatchObject({ code: "SQLITE_CONSTRAINT_PRIMARYKEY" });
    const ids = await db.execute("SELECT id FROM t ORDER BY id");
    expect(ids.rows.map((r) => r.id)).toEqual([1, 2]);
    // A SELECT after a write reports no affected rows (changes() would still say 1).
    expect((await db.execute("SELECT 1")).rowsAffected).toBe(0);
  });

  it("answers errors in Hrana's shape with the engine's codes", async () => {
    const hrana = await server();
    const db = client(hrana.url);
    await expect(db.execute("SELEC 1")).rejects.toMatchObject({ code: "SQLITE_ERROR" });
    await expect(db.execute("SELECT * FROM nowhere")).rejects.toThrow(/no such table: nowhere/);
    await expect(db.execute({ sql: "SELECT ?", args: [1, 2] })).rejects.toMatchObject({
      code: "ARGS_INVALID",
    });
    await expect(db.execute({ sql: "SELECT ?, ?", args: [1] })).rejects.toMatchObject({
      code: "ARGS_INVALID",
    });
    // A `?` in a literal, a quoted name or a comment is not a parameter; ?NNN sets the count.
    const literal = await db.execute({
      sql: `SELECT '?:x' AS "a?", ? AS b /* ? */, ?3 AS c -- ?`,
      args: [1, 2, 3],
    });
    expect(literal.rows[0]).toMatchObject({ "a?": "?:x", b: 1, c: 3 });
    await expect(db.execute({ sql: "SELECT :a", args: { b: 1 } })).rejects.toMatchObject({
      code: "ARGS_INVALID",
    });
    const bad = await fetch(`${hrana.url}/v3/pipeline`, { method: "POST", body: "{" });
    expect([bad.status, await bad.json()]).toEqual([
      400,
      { message: "the request body is not JSON", code: "PROTO_ERROR" },
    ]);
    const unknown = await pipeline(hrana.url, null, [{ type: "open_cursor" }]);
    expect([unknown.status, unknown.body.code]).toEqual([400, "PROTO_ERROR"]);
  });

  it("lets two clients' write transactions take turns (the second waits for the lock)", async () => {
    const hrana = await server();
    const a = client(hrana.url);
    const b = client(hrana.url);
    await a.execute("CREATE TABLE c (n INTEGER)");
    await a.execute("INSERT INTO c VALUES (0)");
    const first = await a.transaction("write");
    await first.execute("UPDATE c SET n = n + 1");
    // b's batch begins with BEGIN IMMEDIATE: it waits, without blocking first's COMMIT.
    const second = b.batch(["UPDATE c SET n = n * 10"], "write");
    await new Promise((r) => setTimeout(r, 100));
    await first.commit();
    await second;
    expect((await b.execute("SELECT n FROM c")).rows[0]?.n).toBe(10);
    const many = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        (i % 2 ? a : b).batch(["UPDATE c SET n = n + 1"], "write"),
      ),
    );
    expect(many).toHaveLength(20);
    expect((await a.execute("SELECT n FROM c")).rows[0]?.n).toBe(30);
  });

  it("gives up on a lock held past busyTimeoutMs with SQLITE_BUSY", async () => {
    const hrana = await server({ busyTimeoutMs: 100 });
    const a = client(hrana.url);
    await a.execute("CREATE TABLE t (x)");
    const holder = await a.transaction("write");
    await holder.execute("SELECT 1"); // sends BEGIN IMMEDIATE
    await expect(client(hrana.url).execute("INSERT INTO t VALUES (1)")).rejects.toMatchObject({
      code: "SQLITE_BUSY",
    });
    await holder.rollback();
  });

  it("refuses a used or unknown baton and rolls back a stream left idle", async () => {
    const hrana = await server({ streamIdleMs: 100 });
    const opened = await pipeline(hrana.url, null, [
      { type: "sequence", sql: "CREATE TABLE t (x); BEGIN; INSERT INTO t VALUES (1)" },
      { type: "get_autocommit" },
    ]);
    expect(opened.body.results.map((r: { type: string }) => r.type)).toEqual(["ok", "ok"]);
    expect(opened.body.results[1].response.is_autocommit).toBe(false);
    const baton = opened.body.baton as string;
    const next = await pipeline(hrana.url, baton, [{ type: "get_autocommit" }]);
    expect(next.status).toBe(200);
    const replay = await pipeline(hrana.url, baton, [{ type: "get_autocommit" }]);
    expect([replay.status, replay.body.code]).toEqual([400, "STREAM_EXPIRED"]);
    await new Promise((r) => setTimeout(r, 300));
    expect(hrana.openStreams).toBe(0);
    const late = await pipeline(hrana.url, next.body.baton, [{ type: "close" }]);
    expect(late.body.code).toBe("STREAM_EXPIRED");
    const count = await client(hrana.url).execute("SELECT count(*) AS n FROM t");
    expect(count.rows[0]?.n).toBe(0);
  });

  it("serves store_sql, close_sql, describe and batch conditions as the spec says", async () => {
    const hrana = await server();
    const { body } = await pipeline(hrana.url, null, [
      { type: "sequence", sql: "CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT)" },
      { type: "store_sql", sql_id: 7, sql: "INSERT INTO t (name) VALUES (:name)" },
      { type: "store_sql", sql_id: 7, sql: "SELECT 1" },
      {
        type: "execute",
        stmt: { sql_id: 7, named_args: [{ name: ":name", value: { type: "text", value: "x" } }] },
      },
      { type: "describe", sql: "SELECT id, name FROM t WHERE id = ?1 OR name = :n" },
      { type: "describe", sql_id: 7 },
      { type: "close_sql", sql_id: 7 },
      { type: "execute", stmt: { sql_id: 7 } },
      {
        type: "batch",
        batch: {
          steps: [
            { stmt: { sql: "SELECT nope" } },
            { condition: { type: "error", step: 0 }, stmt: { sql: "SELECT 'ran'" } },
            { condition: { type: "ok", step: 0 }, stmt: { sql: "SELECT 'skipped'" } },
            {
              condition: {
                type: "and",
                conds: [{ type: "is_autocommit" }, { type: "not", cond: { type: "ok", step: 2 } }],
              },
              stmt: { sql: "SELECT 'both'", want_rows: false },
            },
          ],
        },
      },
      { type: "close" },
      { type: "get_autocommit" },
    ]);
    const r = body.results;
    expect(body.baton).toBeNull();
    expect(r[2]).toMatchObject({ type: "error", error: { code: "SQL_ID_IN_USE" } });
    expect(r[3].response.result).toMatchObject({ affected_row_count: 1, last_insert_rowid: "1" });
    expect(r[4].response.result).toEqual({
      params: [{ name: "?1" }, { name: ":n" }],
      cols: [
        { name: "id", decltype: "INTEGER" },
        { name: "name", decltype: "TEXT" },
      ],
      is_explain: false,
      is_readonly: true,
    });
    expect(r[5].response.result).toMatchObject({ params: [{ name: ":name" }], is_readonly: false });
    expect(r[7]).toMatchObject({ type: "error", error: { code: "SQL_ID_INVALID" } });
    const batch = r[8].response.result;
    expect(batch.step_errors.map((e: unknown) => e !== null)).toEqual([true, false, false, false]);
    expect(batch.step_results[1].rows).toEqual([[{ type: "text", value: "ran" }]]);
    expect(batch.step_results[2]).toBeNull();
    expect(batch.step_results[3].rows).toEqual([]);
    expect(r[10]).toMatchObject({ type: "error", error: { code: "STREAM_CLOSED" } });
    expect(hrana.openStreams).toBe(0);
  });

  it("answers the version probes and checks the bearer token when one is set", async () => {
    const hrana = await server({ authToken: "s3cret" });
    expect(
      (await fetch(`${hrana.url}/v3`, { headers: { authorization: "Bearer s3cret" } })).status,
    ).toBe(200);
    expect(
      (await fetch(`${hrana.url}/v2`, { headers: { authorization: "Bearer s3cret" } })).status,
    ).toBe(200);
    const proto = await fetch(`${hrana.url}/v3-protobuf`, {
      headers: { authorization: "Bearer s3cret" },
    });
    expect(proto.status).toBe(404);
    await expect(
      client(hrana.url, { authToken: "wrong" }).execute("SELECT 1"),
    ).rejects.toMatchObject({ code: "AUTH_FAILED" });
    await expect(client(hrana.url).execute("SELECT 1")).rejects.toMatchObject({
      code: "AUTH_FAILED",
    });
    const ok = await client(hrana.url, { authToken: "s3cret" }).execute("SELECT 1 AS one");
    expect(ok.rows[0]?.one).toBe(1);
  });
});
