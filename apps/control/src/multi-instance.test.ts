import { join } from "node:path";
import { migrateDatabase, openDatabase } from "@edgesocks/db";
import { afterAll, describe, expect, it } from "vitest";
import { type HranaServer, startHranaServer } from "../../../e2e/support/hrana-server";
import {
  enrollNode,
  startTestControl,
  type TestControl,
  tempDatabase,
  waitFor,
} from "./test-support/control";

/** What config.watch yields (ConfigEvent; `snapshot` is unknown until validated). */
type WatchedEvent = { version: number; epoch: string; snapshot?: unknown };

const temp = tempDatabase();
const instances: TestControl[] = [];
let hrana: HranaServer | null = null;
afterAll(async () => {
  for (const instance of instances) await instance.close();
  await hrana?.close();
  temp.remove();
});

const DATABASE_AUTH_TOKEN = "hrana-test-token";

/** The file itself, or a libSQL server over it (Hrana over HTTP, as Turso and sqld serve). */
async function databaseFor(kind: "file" | "http"): Promise<{ url: string; authToken?: string }> {
  if (kind === "file") return { url: temp.databaseUrl };
  hrana = await startHranaServer({
    path: join(temp.dir, "served.db"),
    authToken: DATABASE_AUTH_TOKEN,
  });
  return { url: hrana.url, authToken: DATABASE_AUTH_TOKEN };
}

describe.each(["file", "http"] as const)(
  "two control-plane instances on one database (%s:)",
  (kind) => {
    it("pushes a change made on one instance to a relay subscribed to the other", async () => {
      const { url, authToken } = await databaseFor(kind);
      // Fleets with several instances migrate once, then start the instances without migrating.
      {
        await using database = await openDatabase({ url, authToken });
        expect(database.isLocalFile).toBe(kind === "file");
        await migrateDatabase(database);
      }
      const shared = { databaseUrl: url, databaseAuthToken: authToken, migrateOnStart: false };
      const a = await startTestControl(shared);
      instances.push(a);
      const b = await startTestControl({ ...shared, adminToken: a.adminToken });
      instances.push(b);
      // Both bootstrapped the same database: one epoch, one version 1, one first admin.
      expect(b.app.controlPlane.bootstrapped.adminToken).toBeNull();
      expect(b.app.controlPlane.bootstrapped.epoch).toBe(a.app.controlPlane.bootstrapped.epoch);
      expect((await b.admin.snapshots.list.query({})).items.map((s) => s.version)).toEqual([1]);

      const nodeToken = await enrollNode(a, "relay-on-b");
      const relay = b.ws(nodeToken);
      const events: WatchedEvent[] = [];
      const sub = relay.client.config.watch.subscribe(
        { version: null, epoch: null },
        { onData: (tracked) => events.push(tracked.data) },
      );
      await waitFor(() => events.length === 1);
      expect(events[0]?.version).toBe(1);

      const { version } = await a.admin.users.create.mutate({ username: "made-on-a" });
      await waitFor(() => events.length === 2, 5000);
      expect(events[1]?.version).toBe(version);
      expect(
        (events[1]!.snapshot as { users: { username: string }[] }).users.map((u) => u.username),
      ).toContain("made-on-a");

      // Concurrent edits on both instances each get their own version; none is lost.
      const results = await Promise.all([
        a.admin.groups.create.mutate({ name: "from-a" }),
        b.admin.groups.create.mutate({ name: "from-b" }),
      ]);
      expect(new Set(results.map((r) => r.version)).size).toBe(2);
      const groups = await b.admin.groups.list.query();
      expect(groups.map((g) => g.name).sort()).toEqual(["from-a", "from-b"]);
      await waitFor(() => events.at(-1)?.version === Math.max(...results.map((r) => r.version)));
      sub.unsubscribe();
    });
  },
);
