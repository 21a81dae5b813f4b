import { randomUUID } from "node:crypto";
import { appRouter } from "@edgesocks/api";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestControl, type TestControl } from "./test-support/control";

/**
 * Relay data paths: high-volume reports of what a relay saw, not changes anyone makes to state.
 * Every other mutation, by an admin or a node, must write an audit row.
 */
const NOT_AUDITED: Record<string, string> = {
  "sessions.ingest": "a relay's batch of session records: the data path, recorded as sessions",
  "nodes.heartbeat": "a relay's periodic liveness and counters report",
  "config.ack": "a relay reports which snapshot it applied; shown as the node's config status",
};

const PASSWORD = "clear text that must not be audited";

interface Run {
  control: TestControl;
  tokens: string[];
  tokenId?: number;
  enrollmentToken?: string;
}

/**
 * One valid call per mutation, run in this order. A new mutation needs a case here (the test
 * names it); the case must succeed and write at least one audit row with its path as action.
 */
const CASES: Record<string, (run: Run) => Promise<unknown>> = {
  "admins.create": async (run) => {
    const made = await run.control.admin.admins.create.mutate({ name: "ops", role: "viewer" });
    run.tokens.push(made.token);
  },
  "admins.createToken": async (run) => {
    const made = await run.control.admin.admins.createToken.mutate({ name: "ops", label: "ci" });
    run.tokens.push(made.token);
    run.tokenId = made.id;
  },
  "admins.revokeToken": (run) => run.control.admin.admins.revokeToken.mutate({ id: run.tokenId! }),
  "groups.create": (run) => run.control.admin.groups.create.mutate({ name: "devs" }),
  "groups.update": (run) =>
    run.control.admin.groups.update.mutate({ name: "devs", patch: { maxConnectionsPerUser: 5 } }),
  "users.create": (run) =>
    run.control.admin.users.create.mutate({
      username: "bob",
      password: PASSWORD,
      groups: ["devs"],
    }),
  "users.update": (run) =>
    run.control.admin.users.update.mutate({
      username: "bob",
      patch: { password: `${PASSWORD} 2`, enabled: false },
    }),
  "quotas.set": (run) =>
    run.control.admin.quotas.set.mutate({
      kind: "user",
      name: "bob",
      quota: { bytes: 1_000_000, period: "day" },
    }),
  "quotas.setTimezone": (run) =>
    run.control.admin.quotas.setTimezone.mutate({ timeZone: "Europe/Berlin" }),
  "quotas.reset": (run) => run.control.admin.quotas.reset.mutate({ kind: "user", name: "bob" }),
  "routes.put": (run) =>
    run.control.admin.routes.put.mutate({
      route: {
        name: "via-parent",
        resolve: "remote",
        chains: [
          {
            hops: [
              { type: "socks5", host: "127.0.0.1", port: 1081, username: "u", password: PASSWORD },
            ],
          },
        ],
      },
    }),
  "rules.create": (run) =>
    run.control.admin.rules.create.mutate({
      id: "web",
      owner: { kind: "group", name: "devs" },
      action: "allow",
      destinations: ["*"],
      ports: ["443"],
    }),
  "rules.update": (run) =>
    run.control.admin.rules.update.mutate({ id: "web", patch: { priority: 10 } }),
  "qos.update": (run) => run.control.admin.qos.update.mutate({ maxConnectionsGlobal: 100 }),
  "auth.update": (run) => run.control.admin.auth.update.mutate({ methods: ["none", "userpass"] }),
  "auth.setScope": (run) =>
    run.control.admin.auth.setScope.mutate({ scope: "fleet", method: "userpass" }),
  "acl.updateSettings": (run) =>
    run.control.admin.acl.updateSettings.mutate({ defaultPolicy: "block" }),
  "nodes.enroll": async (run) => {
    const made = await run.control.admin.nodes.enroll.mutate({ name: "relay-a", region: "eu" });
    run.enrollmentToken = made.enrollmentToken;
    run.tokens.push(made.enrollmentToken);
  },
  "nodes.exchange": async (run) => {
    const made = await run.control.http(null).nodes.exchange.mutate({
      enrollmentToken: run.enrollmentToken!,
      softwareVersion: "test",
      publicAddress: null,
    });
    run.tokens.push(made.nodeToken);
  },
  "sessions.terminate": (run) =>
    run.control.admin.sessions.terminate.mutate({ id: randomUUID(), node: "relay-a" }),
  "rules.delete": (run) => run.control.admin.rules.delete.mutate({ id: "web" }),
  "routes.delete": (run) => run.control.admin.routes.delete.mutate({ name: "via-parent" }),
  "users.delete": (run) => run.control.admin.users.delete.mutate({ username: "bob" }),
  "groups.delete": (run) => run.control.admin.groups.delete.mutate({ name: "devs" }),
  "policy.import": (run) =>
    run.control.admin.policy.import.mutate({
      users: [{ username: "carol", password: PASSWORD }],
      groups: [],
      rules: [],
    }),
  "snapshots.rollback": (run) => run.control.admin.snapshots.rollback.mutate({ version: 1 }),
  "nodes.disable": (run) => run.control.admin.nodes.disable.mutate({ name: "relay-a" }),
  "nodes.enable": (run) => run.control.admin.nodes.enable.mutate({ name: "relay-a" }),
  "nodes.remove": (run) => run.control.admin.nodes.remove.mutate({ name: "relay-a" }),
};

/** Every mutation of the router, by path (`users.create`), walked from its definition. */
function mutationPaths(): string[] {
  // At run time `_def.procedures` is flat, keyed by dotted path.
  const procedures = appRouter._def.procedures as unknown as Record<
    string,
    { _def: { type: string } }
  >;
  return Object.entries(procedures)
    .filter(([, procedure]) => procedure._def.type === "mutation")
    .map(([path]) => path)
    .sort();
}

let control: TestControl;
beforeAll(async () => {
  control = await startTestControl();
});
afterAll(async () => {
  await control.close();
});

async function auditRows(action?: string) {
  return (await control.admin.audit.list.query({ limit: 500, action })).items;
}

describe("audit coverage", () => {
  it("has a case or a stated exemption for every mutation of the router", () => {
    const paths = mutationPaths();
    expect(paths.length).toBeGreaterThan(10);
    const uncovered = paths.filter((p) => !(p in CASES) && !(p in NOT_AUDITED));
    expect(uncovered, "mutations without an audit case: add one to CASES").toEqual([]);
    const stale = [...Object.keys(CASES), ...Object.keys(NOT_AUDITED)].filter(
      (p) => !paths.includes(p),
    );
    expect(stale, "cases for procedures that are not mutations of the router").toEqual([]);
  });

  it("writes an audit row for every admin and node mutation, with no secret in it", async () => {
    const run: Run = { control, tokens: [control.adminToken] };
    const unaudited: string[] = [];
    for (const [path, call] of Object.entries(CASES)) {
      const before = (await auditRows(path)).length;
      await call(run);
      if ((await auditRows(path)).length <= before) unaudited.push(path);
    }
    expect(unaudited, "mutations that wrote no audit row").toEqual([]);

    const rows = await auditRows();
    const text = JSON.stringify(rows);
    expect(text).not.toContain("$argon2id$");
    expect(text).not.toContain(PASSWORD);
    for (const token of run.tokens) expect(text).not.toContain(token);
    const enrolled = rows.find((r) => r.action === "nodes.enroll")!;
    expect(enrolled).toMatchObject({ actor: "admin", target: "node relay-a" });
    expect(enrolled.after).toMatchObject({ name: "relay-a", region: "eu" });
    const exchanged = rows.find((r) => r.action === "nodes.exchange")!;
    expect(exchanged).toMatchObject({ actor: "node relay-a", target: "node relay-a" });
    const terminated = rows.find((r) => r.action === "sessions.terminate")!;
    expect(terminated).toMatchObject({ actor: "admin", after: { node: "relay-a" } });
    expect(terminated.target).toMatch(/^session [0-9a-f-]{36}$/);
  });
});
