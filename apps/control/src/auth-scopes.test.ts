import type { AppRouter } from "@edgesocks/api";
import { TRPCClientError } from "@trpc/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestControl, type TestControl } from "./test-support/control";

/** nodes.list reads the newest snapshot this instance holds, which follows a change shortly. */
async function nodeAuth(control: TestControl, version: number) {
  for (let i = 0; i < 200; i++) {
    const nodes = await control.admin.nodes.list.query();
    if (nodes[0]?.newestVersion === version) return new Map(nodes.map((n) => [n.name, n]));
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`nodes.list never showed version ${version}`);
}

async function failure(promise: Promise<unknown>): Promise<TRPCClientError<AppRouter>> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof TRPCClientError) return error;
    throw error;
  }
  throw new Error("expected the call to fail");
}

const appCode = (error: TRPCClientError<AppRouter>) =>
  (error.data as { appCode?: string } | undefined)?.appCode ?? null;

let control: TestControl;
beforeAll(async () => {
  control = await startTestControl();
  await control.admin.nodes.enroll.mutate({ name: "relay-eu-1", region: "eu-west" });
  await control.admin.nodes.enroll.mutate({ name: "relay-eu-2", region: "eu-west" });
  await control.admin.nodes.enroll.mutate({ name: "relay-us-1", region: "us-east" });
});
afterAll(async () => {
  await control.close();
});

describe("auth.scopes and auth.setScope", () => {
  it("start empty, and the snapshot has no scopes (its hash as before)", async () => {
    expect(await control.admin.auth.scopes.query()).toEqual({
      default: null,
      regions: {},
      nodes: {},
    });
    const newest = await control.admin.snapshots.get.query({});
    expect(newest.snapshot.auth).not.toHaveProperty("scopes");
    const nodes = await control.admin.nodes.list.query();
    expect(nodes.every((n) => n.authMethod === null && n.authProblem === null)).toBe(true);
  });

  it("set the default and overrides, each a new version the snapshot carries", async () => {
    const start = (await control.admin.snapshots.get.query({})).version;
    const fleet = await control.admin.auth.setScope.mutate({ scope: "fleet", method: "userpass" });
    expect(fleet.version).toBe(start + 1);
    await control.admin.auth.setScope.mutate({
      scope: "region",
      name: "eu-west",
      method: "pam.username",
      groupSource: "nss",
    });
    const node = await control.admin.auth.setScope.mutate({
      scope: "node",
      name: "relay-eu-2",
      method: "gssapi",
    });
    expect(node.version).toBe(start + 3);
    expect(node.scopes).toEqual({
      default: { method: "userpass", groupSource: "policy" },
      regions: { "eu-west": { method: "pam.username", groupSource: "nss" } },
      nodes: { "relay-eu-2": { method: "gssapi", groupSource: "policy" } },
    });
    expect(await control.admin.auth.scopes.query()).toEqual(node.scopes);
    const newest = await control.admin.snapshots.get.query({});
    expect(newest.snapshot.auth.scopes).toEqual(node.scopes);

    // nodes.list shows each node's method and the scope that gave it.
    const byName = await nodeAuth(control, node.version);
    expect(byName.get("relay-eu-1")?.authMethod).toEqual({
      method: "pam.username",
      groupSource: "nss",
      scope: "region",
    });
    expect(byName.get("relay-eu-2")?.authMethod).toMatchObject({ method: "gssapi", scope: "node" });
    expect(byName.get("relay-us-1")?.authMethod).toMatchObject({
      method: "userpass",
      scope: "fleet",
    });

    const audit = await control.admin.audit.list.query({ limit: 1 });
    expect(audit.items[0]).toMatchObject({
      actor: "admin",
      action: "auth.setScope",
      target: "auth method: node relay-eu-2",
    });
  });

  it("removes an override: the node falls back to its region's method", async () => {
    const removed = await control.admin.auth.setScope.mutate({
      scope: "node",
      name: "relay-eu-2",
      method: null,
    });
    expect(removed.scopes.nodes).toEqual({});
    const node = (await nodeAuth(control, removed.version)).get("relay-eu-2")!;
    expect(node.authMethod).toMatchObject({ method: "pam.username", scope: "region" });
    const again = await failure(
      control.admin.auth.setScope.mutate({ scope: "node", name: "relay-eu-2", method: null }),
    );
    expect(appCode(again)).toBe("API_E_NOT_FOUND");
    expect(again.message).toContain('node "relay-eu-2" has no override to remove');
  });

  it("refuses an unknown method, node or region with a message naming it, and stores nothing", async () => {
    const before = (await control.admin.snapshots.get.query({})).version;
    const method = await failure(
      control.admin.auth.setScope.mutate({
        scope: "fleet",
        method: "pam" as unknown as "none",
      }),
    );
    expect(method.data?.code).toBe("BAD_REQUEST");
    expect(method.message).toContain('expected "none", "userpass", "pam.username"');
    expect(method.message).toContain('got "pam"');

    const node = await failure(
      control.admin.auth.setScope.mutate({ scope: "node", name: "relay-xx-9", method: "none" }),
    );
    expect(appCode(node)).toBe("API_E_NOT_FOUND");
    expect(node.message).toBe('name: node "relay-xx-9" does not exist (nodes.list)');

    const region = await failure(
      control.admin.auth.setScope.mutate({ scope: "region", name: "mars-1", method: "none" }),
    );
    expect(appCode(region)).toBe("API_E_NOT_FOUND");
    expect(region.message).toContain('no node is in region "mars-1"');
    expect(region.message).toContain('"eu-west", "us-east"');

    const noName = await failure(
      control.admin.auth.setScope.mutate({ scope: "region", method: "none" }),
    );
    expect(noName.message).toContain("a region name is required");
    const extra = await failure(
      control.admin.auth.setScope.mutate({
        scope: "fleet",
        method: "none",
        ...({ fallback: "userpass" } as object),
      }),
    );
    expect(extra.data?.code).toBe("BAD_REQUEST");
    expect(extra.message).toContain("fallback");
    expect((await control.admin.snapshots.get.query({})).version).toBe(before);
  });

  it("is for admins: a viewer reads the scopes but cannot set them", async () => {
    const { token } = await control.admin.admins.create.mutate({ name: "vic", role: "viewer" });
    const viewer = control.http(token);
    expect((await viewer.auth.scopes.query()).default).toMatchObject({ method: "userpass" });
    const refused = await failure(viewer.auth.setScope.mutate({ scope: "fleet", method: "none" }));
    expect(refused.data?.code).toBe("FORBIDDEN");
  });

  it("rolls back with the snapshot it restores", async () => {
    const { version } = await control.admin.auth.setScope.mutate({
      scope: "fleet",
      method: null,
    });
    expect((await control.admin.auth.scopes.query()).default).toBeNull();
    await control.admin.snapshots.rollback.mutate({ version: version - 1 });
    expect((await control.admin.auth.scopes.query()).default).toEqual({
      method: "userpass",
      groupSource: "policy",
    });
  });
});
