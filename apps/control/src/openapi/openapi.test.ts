// biome-ignore-all lint/suspicious/noExplicitAny: the test reads JSON answers and the document as plain data
import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import { promisify } from "node:util";
import { Validator } from "@seriousme/openapi-schema-validator";
import { Ajv2020 } from "ajv/dist/2020.js";
import addFormats from "ajv-formats";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  enrollNode,
  sessionRecord,
  startTestControl,
  type TestControl,
} from "../test-support/control";

const run = promisify(execFile);

let control: TestControl;
let viewerToken: string;
let doc: Record<string, any>;
const activeId = randomUUID();
const minutesAgo = (m: number) => new Date(Date.now() - m * 60_000).toISOString();

/** One real curl call: status, headers-free JSON body. */
async function curl(
  method: string,
  path: string,
  options: { token?: string | null; body?: unknown } = {},
): Promise<{ status: number; body: any }> {
  const token = options.token === undefined ? control.adminToken : options.token;
  const args = ["-s", "-X", method, "-w", "\n%{http_code}"];
  if (token !== null) args.push("-H", `Authorization: Bearer ${token}`);
  if (options.body !== undefined) {
    args.push("-H", "content-type: application/json", "--data", JSON.stringify(options.body));
  }
  const { stdout } = await run("curl", [...args, `${control.app.server.url}${path}`]);
  const cut = stdout.lastIndexOf("\n");
  const text = stdout.slice(0, cut);
  return { status: Number(stdout.slice(cut + 1)), body: text === "" ? null : JSON.parse(text) };
}

let ajv: InstanceType<typeof Ajv2020>;
/** Checks a body against the document's schema for that operation's 200 answer. */
function expectMatches(path: string, method: string, body: unknown): void {
  const pointer = `doc#/paths/${path.replaceAll("~", "~0").replaceAll("/", "~1")}/${method}/responses/200/content/application~1json/schema`;
  const validate = ajv.getSchema(pointer);
  if (validate === undefined) throw new Error(`no schema at ${pointer}`);
  const ok = validate(body);
  expect(ok ? null : { path, errors: validate.errors }).toBeNull();
}

beforeAll(async () => {
  control = await startTestControl();
  const admin = control.admin;
  await admin.groups.create.mutate({ name: "developers" });
  await admin.users.create.mutate({ username: "alice", password: "pw", groups: ["developers"] });
  await admin.users.create.mutate({ username: "bob", password: "pw" });
  await admin.rules.create.mutate({
    id: "https-anywhere",
    owner: { kind: "group", name: "developers" },
    action: "allow",
    description: "HTTPS anywhere",
    destinations: ["*"],
    ports: ["443"],
    protocols: ["tcp"],
  });
  await admin.acl.updateSettings.mutate({ enabled: true, defaultPolicy: "block" });
  ({ token: viewerToken } = await admin.admins.create.mutate({ name: "watcher", role: "viewer" }));
  // A relay's view: a batch of ended sessions and one open now.
  const relay = control.http(await enrollNode(control, "relay-eu", "eu-west"));
  await relay.sessions.ingest.mutate({
    records: [
      sessionRecord({ user: "alice", startedAt: minutesAgo(30), endedAt: minutesAgo(29) }),
      sessionRecord({
        user: "alice",
        startedAt: minutesAgo(20),
        endedAt: minutesAgo(19),
        command: "udp",
      }),
      sessionRecord({
        user: "bob",
        startedAt: minutesAgo(10),
        endedAt: minutesAgo(9),
        status: "failed",
      }),
      sessionRecord({
        user: "bob",
        startedAt: minutesAgo(5),
        endedAt: minutesAgo(5),
        destinationHost: "blocked.test",
        destinationAddress: null,
        status: "rejected",
        decision: "block",
        ruleId: null,
        bytesUp: 0,
        bytesDown: 0,
      }),
    ],
  });
  await relay.nodes.heartbeat.mutate({
    softwareVersion: "test",
    publicAddress: null,
    appliedVersion: null,
    epoch: null,
    counters: {
      connectionsActive: 1,
      sessionsActive: 1,
      sessionsTotal: 5,
      bytesUp: 1,
      bytesDown: 2,
      rejectedTotal: 1,
      spoolBacklogBytes: 0,
    },
    activeSessions: [
      {
        id: activeId,
        user: "alice",
        clientAddress: "127.0.0.1",
        clientPort: 50000,
        command: "connect",
        transport: "tcp",
        destinationHost: "example.com",
        destinationAddress: "93.184.216.34",
        destinationPort: 443,
        startedAt: minutesAgo(1),
        bytesUp: 10,
        bytesDown: 20,
      },
    ],
    activeSessionsTruncated: false,
  });
  const fetched = await curl("GET", "/openapi.json", { token: null });
  expect(fetched.status).toBe(200);
  doc = fetched.body;
  ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormats.default(ajv);
  ajv.addFormat("starts_with", true); // zod's note beside the `pattern` it also emits
  ajv.addSchema(doc, "doc");
});
afterAll(async () => {
  await control?.close();
});

describe("/openapi.json", () => {
  it("is a valid OpenAPI 3.1 document", async () => {
    const result = await new Validator().validate(structuredClone(doc));
    expect(result.errors ?? null).toBeNull();
    expect(result.valid).toBe(true);
    expect(doc.openapi).toBe("3.1.0");
  });

  it("documents every tRPC query and mutation, with the role each needs", () => {
    const op = (path: string) => Object.values(doc.paths[path] ?? {})[0] as any;
    expect(op("/trpc/users.list").security).toEqual([{ adminToken: [] }]);
    expect(op("/trpc/users.create").description).toMatch(/role `admin`/);
    expect(op("/trpc/users.list").description).toMatch(/role `viewer` or `admin`/);
    expect(op("/trpc/sessions.ingest").security).toEqual([{ nodeToken: [] }]);
    expect(op("/trpc/nodes.exchange").security).toEqual([]);
    const procedures = Object.entries(
      (control.app.controlPlane.router as any)._def.procedures as Record<string, any>,
    ).filter(([, p]) => p._def.type !== "subscription");
    for (const [path, procedure] of procedures) {
      expect(doc.paths[`/trpc/${path}`], path).toBeDefined();
      // tRPC checks answers only against a declared output: every procedure has one.
      expect(procedure._def.output, `${path} has no .output()`).toBeDefined();
    }
  });

  it("answers every tRPC query that needs no input as its schema says", async () => {
    const queries = Object.entries(doc.paths)
      .filter(([path, item]: [string, any]) => path.startsWith("/trpc/") && item.get)
      .filter(([, item]: [string, any]) => !item.get.parameters.some((p: any) => p.required));
    expect(queries.length).toBeGreaterThan(10);
    for (const [path] of queries) {
      const answer = await curl("GET", path);
      expect({ path, status: answer.status }).toEqual({ path, status: 200 });
      expectMatches(path, "get", answer.body);
    }
  });
});

describe("REST paths", () => {
  const called = new Set<string>();
  const call = async (method: string, template: string, path = template, body?: unknown) => {
    const answer = await curl(method, path, { body });
    expect({
      path,
      status: answer.status,
      body: answer.status === 200 ? null : answer.body,
    }).toEqual({
      path,
      status: 200,
      body: null,
    });
    expectMatches(template, method.toLowerCase(), answer.body);
    called.add(`${method.toLowerCase()} ${template}`);
    return answer.body;
  };

  it("answer RustSocks' shapes, checked against the document", async () => {
    const active = await call("GET", "/api/sessions/active");
    expect(active).toMatchObject([
      { id: activeId, user: "alice", status: "active", dest_ip: "example.com", dest_port: 443 },
    ]);

    const history = await call("GET", "/api/sessions/history");
    expect(history).toMatchObject({ total: 4, page: 1, page_size: 50, total_pages: 1 });
    expect(history.data.map((s: any) => s.status)).toEqual([
      "rejected_by_acl",
      "failed",
      "closed",
      "closed",
    ]);
    const alice = await call(
      "GET",
      "/api/sessions/history",
      "/api/sessions/history?user=alice&hours=1",
    );
    expect(alice.data.map((s: any) => s.protocol)).toEqual(["udp", "tcp"]);
    const paged = await call(
      "GET",
      "/api/sessions/history",
      "/api/sessions/history?page=2&page_size=3&dest_ip=example.com",
    );
    expect(paged).toMatchObject({ total: 3, page: 2, page_size: 3, total_pages: 1, data: [] });
    const blocked = await call(
      "GET",
      "/api/sessions/history",
      "/api/sessions/history?status=rejected_by_acl",
    );
    expect(blocked.data).toMatchObject([
      { user: "bob", dest_ip: "blocked.test", acl_decision: "block" },
    ]);

    const stats = await call("GET", "/api/sessions/stats");
    expect(stats).toMatchObject({
      total_sessions: 4,
      active_sessions: 1,
      closed_sessions: 2,
      failed_sessions: 1,
      rejected_sessions: 1,
    });

    const one = history.data[0];
    expect(await call("GET", "/api/sessions/{id}", `/api/sessions/${one.id}`)).toEqual(one);
    expect(await call("GET", "/api/sessions/{id}", `/api/sessions/${activeId}`)).toMatchObject({
      status: "active",
    });

    const bobs = await call("GET", "/api/users/{user}/sessions", "/api/users/bob/sessions");
    expect(bobs.map((s: any) => s.user)).toEqual(["bob", "bob"]);

    const rules = await call("GET", "/api/acl/rules");
    const users = await control.admin.users.list.query();
    expect(rules).toMatchObject({
      user_count: users.length,
      group_count: 1,
      rules: [{ id: "https-anywhere", user_or_group: "developers", action: "allow", priority: 0 }],
    });

    const allowed = await call("POST", "/api/acl/test", "/api/acl/test", {
      user: "alice",
      destination: "example.com",
      port: 443,
      protocol: "tcp",
    });
    expect(allowed).toMatchObject({ decision: "allow", matched_rule: "https-anywhere" });
    const refused = await call("POST", "/api/acl/test", "/api/acl/test", {
      user: "bob",
      destination: "example.com",
      port: 443,
    });
    expect(refused).toMatchObject({ decision: "block", matched_rule: null, protocol: "tcp" });
    const atTime = await call("POST", "/api/acl/test", "/api/acl/test", {
      user: "alice",
      destination: "example.com",
      port: 443,
      client: "127.0.0.2",
      client_country: "de",
      at: "2030-01-02T09:00:00Z",
    });
    expect(atTime).toMatchObject({ decision: "allow", at: "2030-01-02T09:00:00.000Z" });

    const before = await control.admin.snapshots.list.query({ limit: 1 });
    const reloaded = await call("POST", "/api/admin/reload-acl");
    expect(reloaded).toMatchObject({ success: true, version: before.items[0]!.version + 1 });

    const documented = Object.entries(doc.paths as Record<string, object>)
      .filter(([path]) => path.startsWith("/api/"))
      .flatMap(([path, item]) => Object.keys(item).map((method) => `${method} ${path}`));
    expect([...called].sort()).toEqual(documented.sort());
  });

  it("refuse what they do not understand, with RustSocks' error shape and no stack", async () => {
    const errorSchema = ajv.compile({ $ref: "doc#/components/schemas/RestError" });
    const cases: [string, string, { token?: string | null; body?: unknown }, number, string][] = [
      ["GET", "/api/sessions/history", { token: null }, 401, "API_E_UNAUTHORIZED"],
      ["POST", "/api/admin/reload-acl", { token: viewerToken }, 403, "API_E_FORBIDDEN"],
      ["GET", "/api/sessions/history?colour=red", {}, 400, "API_E_BAD_INPUT"],
      ["GET", "/api/sessions/history?page=two", {}, 400, "API_E_BAD_INPUT"],
      ["GET", "/api/sessions/history?status=active", {}, 400, "API_E_BAD_INPUT"],
      ["GET", "/api/sessions/not-a-uuid", {}, 400, "API_E_BAD_INPUT"],
      ["GET", `/api/sessions/${randomUUID()}`, {}, 404, "API_E_NOT_FOUND"],
      [
        "POST",
        "/api/acl/test",
        { body: { user: "a", destination: "b", port: 1, protocol: "both" } },
        400,
        "API_E_BAD_INPUT",
      ],
      [
        "POST",
        "/api/acl/test",
        { body: { user: "a", destination: "b", port: 1, extra: 1 } },
        400,
        "API_E_BAD_INPUT",
      ],
      [
        "POST",
        "/api/acl/test",
        { body: { user: "a", destination: "b", port: 1, client_country: "XX" } },
        400,
        "API_E_BAD_INPUT",
      ],
      ["GET", "/api/acl/test", {}, 405, "METHOD_NOT_ALLOWED"],
      ["GET", "/api/nothing", {}, 404, "NOT_FOUND"],
    ];
    for (const [method, path, options, status, code] of cases) {
      const answer = await curl(method, path, options);
      expect({ path, status: answer.status, error: answer.body?.error }).toEqual({
        path,
        status,
        error: code,
      });
      expect(errorSchema(answer.body)).toBe(true);
      expect(JSON.stringify(answer.body)).not.toMatch(/stack|at .*\.ts:/);
    }
    // tRPC's own errors over HTTP carry no stack either.
    const trpc = await curl(
      "GET",
      `/trpc/users.get?input=${encodeURIComponent('{"username":"nobody"}')}`,
    );
    expect(trpc.status).toBe(404);
    expect(trpc.body.error.data.appCode).toBe("API_E_NOT_FOUND");
    expect(JSON.stringify(trpc.body)).not.toMatch(/stack|at .*\.ts:/);
    // A viewer reads.
    expect((await curl("GET", "/api/acl/rules", { token: viewerToken })).status).toBe(200);
  });
});
