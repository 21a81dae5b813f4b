import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestControl, type TestControl } from "./test-support/control";

let control: TestControl;
beforeAll(async () => {
  control = await startTestControl();
});
afterAll(async () => {
  await control.close();
});

describe("snapshots.diff hides password hashes", () => {
  it('shows a new password as "changed" to admins and viewers, never the argon2id hash', async () => {
    const created = await control.admin.users.create.mutate({ username: "dora", password: "one" });
    const updated = await control.admin.users.update.mutate({
      username: "dora",
      patch: { password: "two" },
    });
    const { token } = await control.admin.admins.create.mutate({ name: "eve", role: "viewer" });
    for (const client of [control.admin, control.http(token)]) {
      const added = await client.snapshots.diff.query({
        from: created.version - 1,
        to: created.version,
      });
      expect(added.users.added).toEqual([expect.objectContaining({ passwordHash: "set" })]);
      const changed = await client.snapshots.diff.query({
        from: created.version,
        to: updated.version,
      });
      expect(changed.users.changed).toEqual([
        {
          before: expect.objectContaining({ username: "dora", passwordHash: "set" }),
          after: expect.objectContaining({ username: "dora", passwordHash: "changed" }),
        },
      ]);
      expect(JSON.stringify([added, changed])).not.toContain("$argon2id$");
    }
  });
});
