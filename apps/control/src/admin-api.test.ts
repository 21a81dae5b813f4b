import type { AppRouter } from "@edgesocks/api";
import { TRPCClientError } from "@trpc/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestControl, type TestControl } from "./test-support/control";

function appCode(error: unknown): string | null {
  if (!(error instanceof TRPCClientError)) throw error;
  return (error.data as { appCode?: string } | undefined)?.appCode ?? null;
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

let control: TestControl;
beforeAll(async () => {
  control = await startTestControl();
});
afterAll(async () => {
  await control.close();
});

describe("first start", () => {
  it("publishes version 1: auth none, default allow, user anonymous", async () => {
    const newest = await control.admin.snapshots.get.query({});
    expect(newest.version).toBe(1);
    expect(newest.snapshot.auth.methods).toEqual(["none"]);
    expect(newest.snapshot.acl).toEqual({ enabled: true, defaultPolicy: "allow" });
    expect(newest.snapshot.users.map((u) => u.username)).toEqual(["anonymous"]);
    expect(newest.epoch).toMatch(/^[0-9a-f-]{36}$/);
    expect(await control.admin.whoami.query()).toEqual({ name: "admin", role: "admin" });
  });
});

describe("policy CRUD and snapshot versions", () => {
  it("makes one new version per accepted change, and compiles what the relays get", async () => {
    const start = (await control.admin.snapshots.get.query({})).version;
    const group = await control.admin.groups.create.mutate({ name: "developers" });
    expect(group.version).toBe(start + 1);
    const user = await control.admin.users.create.mutate({
      username: "alice",
      password: "correct horse",
      groups: ["developers"],
    });
    expect(user.version).toBe(start + 2);
    expect(user.user).toMatchObject({ username: "alice", hasPassword: true, enabled: true });
    const rule = await control.admin.rules.create.mutate({
      id: "dev-https",
      owner: { kind: "group", name: "developers" },
      action: "allow",
      destinations: ["*.dev.example.com", "10.0.0.0/8"],
      ports: ["443"],
      protocols: ["tcp"],
      priority: 50,
    });
    expect(rule.version).toBe(start + 3);
    await control.admin.qos.update.mutate({ enabled: true, maxConnectionsGlobal: 500 });
    await control.admin.auth.update.mutate({ methods: ["userpass"] });

    const newest = await control.admin.snapshots.get.query({});
    expect(newest.version).toBe(start + 5);
    expect(newest.snapshot.users.find((u) => u.username === "alice")?.passwordHash).toMatch(
      /^\$argon2id\$/,
    );
    expect(newest.snapshot.rules.map((r) => r.id)).toEqual(["dev-https"]);
    expect(newest.snapshot.qos).toMatchObject({ enabled: true, maxConnectionsGlobal: 500 });
    expect(newest.snapshot.auth.methods).toEqual(["userpass"]);

    const listed = await control.admin.users.list.query();
    expect(listed.find((u) => u.username === "alice")).not.toHaveProperty("passwordHash");

    await control.admin.users.update.mutate({ username: "alice", patch: { enabled: false } });
    expect((await control.admin.users.get.query({ username: "alice" })).enabled).toBe(false);
    const audit = await control.admin.audit.list.query({ limit: 1 });
    expect(audit.items[0]).toMatchObject({
      actor: "admin",
      action: "users.update",
      target: "user alice",
      before: expect.objectContaining({ enabled: true }),
      after: expect.objectContaining({ enabled: false }),
      snapshotVersion: start + 6,
    });
  });

  it("refuses a rule that would not compile, naming the field, and stores nothing", async () => {
    const before = (await control.admin.snapshots.get.query({})).version;
    const error = await failure(
      control.admin.rules.create.mutate({
        id: "broken",
        owner: { kind: "user", name: "alice" },
        action: "allow",
        destinations: ["example.com", "300.1.2.3/40"],
        ports: ["443"],
      }),
    );
    expect(error.data?.code).toBe("BAD_REQUEST");
    expect(appCode(error)).toBe("API_E_POLICY_INVALID");
    expect(error.message).toMatch(/rules\[\d+\] \(id "broken"\)\.destinations\[1\]/);

    const badPort = await failure(
      control.admin.rules.create.mutate({
        owner: { kind: "user", name: "alice" },
        action: "allow",
        destinations: ["*"],
        ports: ["70000"],
      }),
    );
    expect(badPort.message).toMatch(/\.ports\[0\]/);

    const unknownGroup = await failure(
      control.admin.users.create.mutate({ username: "bob", groups: ["nope"] }),
    );
    expect(unknownGroup.message).toMatch(
      /users\[\d+\] \(username "bob"\)\.groups\[0\]: unknown group "nope"/,
    );

    expect((await control.admin.snapshots.get.query({})).version).toBe(before);
    expect((await control.admin.rules.list.query({})).map((r) => r.id)).not.toContain("broken");
    expect((await control.admin.users.list.query()).map((u) => u.username)).not.toContain("bob");
  });

  it("answers bad input, unknown names and duplicates with typed errors", async () => {
    const bad = await failure(control.admin.users.create.mutate({ username: "" }));
    expect(bad.data?.code).toBe("BAD_REQUEST");
    expect(appCode(bad)).toBe("API_E_BAD_INPUT");
    const missing = await failure(control.admin.users.get.query({ username: "nobody" }));
    expect(appCode(missing)).toBe("API_E_NOT_FOUND");
    const duplicate = await failure(control.admin.groups.create.mutate({ name: "developers" }));
    expect(appCode(duplicate)).toBe("API_E_CONFLICT");
    const inUse = await failure(control.admin.groups.delete.mutate({ name: "developers" }));
    expect(appCode(inUse)).toBe("API_E_POLICY_INVALID");
  });

  it("diffs and rolls back versions", async () => {
    const { version: v1 } = await control.admin.rules.create.mutate({
      id: "block-metadata",
      owner: { kind: "group", name: "developers" },
      action: "block",
      destinations: ["169.254.169.254"],
      ports: ["*"],
    });
    const { version: v2 } = await control.admin.rules.delete.mutate({ id: "block-metadata" });
    const diff = await control.admin.snapshots.diff.query({ from: v1, to: v2 });
    expect(diff.rules.removed.map((r) => r.id)).toEqual(["block-metadata"]);
    expect(diff.users).toEqual({ added: [], removed: [], changed: [] });

    const rollback = await control.admin.snapshots.rollback.mutate({ version: v1 });
    expect(rollback.version).toBe(v2 + 1);
    const restored = await control.admin.snapshots.get.query({ version: rollback.version });
    const original = await control.admin.snapshots.get.query({ version: v1 });
    expect(restored.snapshot.rules).toEqual(original.snapshot.rules);
    expect(restored.snapshot.users).toEqual(original.snapshot.users);
    // The tables follow the rollback, so the next edit builds on it.
    expect((await control.admin.rules.list.query({})).map((r) => r.id)).toContain("block-metadata");

    const page = await control.admin.snapshots.list.query({ limit: 2 });
    expect(page.items.map((s) => s.version)).toEqual([rollback.version, v2]);
    const next = await control.admin.snapshots.list.query({ limit: 2, before: page.nextBefore! });
    expect(next.items[0]?.version).toBe(v1);
  });

  it("imports a whole policy as one version", async () => {
    const before = (await control.admin.snapshots.get.query({})).version;
    const { version } = await control.admin.policy.import.mutate({
      groups: [{ name: "ops" }],
      users: [
        { username: "anonymous" },
        { username: "carol", groups: ["ops"] },
        { username: "dave", groups: ["ops"] },
      ],
      rules: [
        {
          id: "ops-ssh",
          owner: { kind: "group", name: "ops" },
          action: "allow",
          destinations: ["10.0.0.0/8"],
          ports: ["22"],
        },
        {
          id: "carol-web",
          owner: { kind: "user", name: "carol" },
          action: "block",
          destinations: ["*.example.org"],
          ports: ["80,443"],
        },
      ],
      acl: { enabled: true, defaultPolicy: "block" },
    });
    expect(version).toBe(before + 1);
    const snapshot = (await control.admin.snapshots.get.query({})).snapshot;
    expect(snapshot.users.map((u) => u.username)).toEqual(["anonymous", "carol", "dave"]);
    expect(snapshot.rules.map((r) => r.id)).toEqual(["ops-ssh", "carol-web"]);
  });
});

describe("upstream routes", () => {
  it("stores routes, compiles them and routed rules into the snapshot, and hides hop passwords", async () => {
    const put = await control.admin.routes.put.mutate({
      route: {
        name: "via-parent",
        resolve: "remote",
        selector: "round",
        chains: [
          {
            hops: [
              { type: "socks5", host: "127.0.0.1", port: 1081, username: "u", password: "s3cret" },
            ],
          },
        ],
      },
    });
    expect(put.route).toMatchObject({ name: "via-parent", maxFails: 1, position: 0 });
    expect(JSON.stringify(await control.admin.routes.list.query())).not.toContain("s3cret");
    expect((await control.admin.routes.list.query())[0]!.chains).toEqual([
      {
        hops: [{ type: "socks5", host: "127.0.0.1", port: 1081, username: "u", hasPassword: true }],
      },
    ]);
    await control.admin.rules.create.mutate({
      id: "routed",
      owner: { kind: "user", name: "anonymous" },
      action: "allow",
      destinations: ["*"],
      ports: ["443"],
      route: "via-parent",
    });
    const { snapshot } = await control.admin.snapshots.get.query({});
    expect(snapshot.routes).toEqual([
      {
        name: "via-parent",
        resolve: "remote",
        selector: "round",
        maxFails: 1,
        failTimeoutSecs: 30,
        chains: [
          {
            hops: [
              { type: "socks5", host: "127.0.0.1", port: 1081, username: "u", password: "s3cret" },
            ],
          },
        ],
      },
    ]);
    expect(snapshot.rules.find((r) => r.id === "routed")?.route).toBe("via-parent");
    expect((await control.admin.rules.get.query({ id: "routed" })).route).toBe("via-parent");

    // A route a rule names cannot go; a rule cannot name a route that does not exist.
    const inUse = await failure(control.admin.routes.delete.mutate({ name: "via-parent" }));
    expect(inUse.message).toMatch(/unknown route "via-parent"/);
    const unknown = await failure(
      control.admin.rules.update.mutate({ id: "routed", patch: { route: "nowhere" } }),
    );
    expect(unknown.message).toMatch(/unknown route "nowhere"/);
    await control.admin.rules.delete.mutate({ id: "routed" });
    await control.admin.routes.delete.mutate({ name: "via-parent" });
    expect("routes" in (await control.admin.snapshots.get.query({})).snapshot).toBe(false);
  });

  it("keeps a chain's proxyProtocol through put, list and the snapshot, and refuses v3", async () => {
    const hop = { type: "socks5" as const, host: "127.0.0.1", port: 1081 };
    await control.admin.routes.put.mutate({
      route: { name: "via-pp", resolve: "remote", chains: [{ proxyProtocol: "v2", hops: [hop] }] },
    });
    expect((await control.admin.routes.list.query())[0]!.chains).toEqual([
      { proxyProtocol: "v2", hops: [hop] },
    ]);
    const { snapshot } = await control.admin.snapshots.get.query({});
    expect(snapshot.routes?.[0]?.chains).toEqual([{ proxyProtocol: "v2", hops: [hop] }]);
    const bad = await failure(
      control.admin.routes.put.mutate({
        route: {
          name: "via-pp",
          resolve: "remote",
          // biome-ignore lint/suspicious/noExplicitAny: a value the schema refuses
          chains: [{ proxyProtocol: "v3" as any, hops: [hop] }],
        },
      }),
    );
    expect(bad.message).toMatch(/must be "v1" or "v2"/);
    await control.admin.routes.delete.mutate({ name: "via-pp" });
  });
});

describe("acl.test", () => {
  it("decides with the relays' engine and lists the rules considered", async () => {
    const allowed = await control.admin.acl.test.query({
      user: "carol",
      destination: "10.1.2.3",
      port: 22,
      protocol: "tcp",
    });
    expect(allowed.decision).toMatchObject({ action: "allow", ruleId: "ops-ssh" });
    expect(allowed.considered.map((c) => [c.rule.id, c.matched])).toEqual(
      expect.arrayContaining([
        ["ops-ssh", true],
        ["carol-web", false],
      ]),
    );
    const blocked = await control.admin.acl.test.query({
      user: "carol",
      destination: "www.example.org",
      port: 443,
      protocol: "tcp",
    });
    expect(blocked.decision).toMatchObject({ action: "block", ruleId: "carol-web" });
    const fallback = await control.admin.acl.test.query({
      user: "dave",
      destination: "example.net",
      port: 80,
      protocol: "tcp",
    });
    expect(fallback.decision).toMatchObject({
      action: "block",
      ruleId: null,
      reason: "default policy block",
    });
  });
});

describe("roles", () => {
  it("lets a viewer read but not write, and refuses missing or unknown tokens", async () => {
    const { token } = await control.admin.admins.create.mutate({ name: "vera", role: "viewer" });
    const viewer = control.http(token);
    expect(await viewer.whoami.query()).toEqual({ name: "vera", role: "viewer" });
    expect((await viewer.users.list.query()).length).toBeGreaterThan(0);
    const before = (await viewer.snapshots.get.query({})).version;
    const forbidden = await failure(viewer.users.create.mutate({ username: "mallory" }));
    expect(forbidden.data?.code).toBe("FORBIDDEN");
    expect(appCode(forbidden)).toBe("API_E_FORBIDDEN");
    expect((await viewer.snapshots.get.query({})).version).toBe(before);
    // Viewers never see password hashes.
    const snapshot = (await viewer.snapshots.get.query({})).snapshot;
    expect(
      snapshot.users.every(
        (u) => u.passwordHash === undefined || u.passwordHash.endsWith("redacted"),
      ),
    ).toBe(true);

    const anonymous = await failure(control.http(null).users.list.query());
    expect(anonymous.data?.code).toBe("UNAUTHORIZED");
    const unknown = await failure(control.http("esa_not-a-real-token").users.list.query());
    expect(appCode(unknown)).toBe("API_E_UNAUTHORIZED");
  });
});
