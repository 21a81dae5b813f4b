import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sessionRecord, startTestControl, type TestControl } from "../test-support/control";
import { ctlFor, registerRelay } from "../test-support/ctl";

let control: TestControl;
let ctl: ReturnType<typeof ctlFor>;

beforeAll(async () => {
  control = await startTestControl();
  ctl = ctlFor(control);
});
afterAll(() => control?.close());

const ok = (result: { code: number | null; stdout: string; stderr: string }) => {
  expect(result.stderr).toBe("");
  expect(result.code).toBe(0);
  return result.stdout;
};

describe("edgesocksctl nodes, sessions and stats", () => {
  it("enrolls a node (token and relay command line) and lists nodes with their health", async () => {
    const enrolled = ok(await ctl("nodes", "enroll", "relay-x", "--region", "eu-west"));
    const token = /^ {2}(ese_\S+)$/m.exec(enrolled)?.[1];
    expect(token).toBeDefined();
    expect(enrolled).toContain(`echo '${token}' > /var/lib/edgesocks/enrollment-token`);
    expect(enrolled).toContain(
      `--control-url ${control.app.server.wsUrl} --node-token-file /var/lib/edgesocks/enrollment-token \\`,
    );
    const { nodeToken } = await control.http(null).nodes.exchange.mutate({
      enrollmentToken: token!,
      softwareVersion: "test",
      publicAddress: null,
    });
    expect(nodeToken).toMatch(/^esn_/);
    await registerRelay(control, {
      name: "relay-y",
      region: "us-east",
      publicAddress: "192.0.2.7:1080",
    });

    const [listed, human, again] = await Promise.all([
      ctl("nodes", "list", "--json"),
      ctl("nodes", "list"),
      ctl("nodes", "enroll", "relay-x", "--region", "eu-west", "--json"),
    ]);
    const nodes = JSON.parse(ok(listed)) as {
      name: string;
      online: boolean;
      publicAddress: string | null;
    }[];
    expect(nodes.map((n) => [n.name, n.online, n.publicAddress])).toEqual([
      ["relay-x", false, null],
      ["relay-y", true, "192.0.2.7:1080"],
    ]);
    expect(ok(human)).toMatch(/^relay-y\s+us-east\s+yes\s+192\.0\.2\.7:1080\s/m);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/already exists.*\(API_E_CONFLICT\)\n$/);
  });

  it("lists sessions with history filters, gets one, and sums them in stats", async () => {
    const nodeToken = await registerRelay(control, {
      name: "relay-s",
      region: "ap-south",
      publicAddress: "192.0.2.9:1080",
    });
    const now = Date.now();
    const at = (agoMs: number) => new Date(now - agoMs).toISOString();
    const ids = [randomUUID(), randomUUID(), randomUUID()];
    await control.http(nodeToken).sessions.ingest.mutate({
      records: [
        sessionRecord({
          id: ids[0],
          user: "alice",
          destinationHost: "api.example.com",
          startedAt: at(30 * 60_000),
          bytesUp: 10,
          bytesDown: 5000,
        }),
        sessionRecord({
          id: ids[1],
          user: "alice",
          destinationHost: "blocked.example",
          startedAt: at(10 * 60_000),
          status: "rejected",
          decision: "block",
          ruleId: "no-blocked",
          bytesUp: 0,
          bytesDown: 0,
        }),
        sessionRecord({
          id: ids[2],
          user: "bob",
          destinationHost: "www.example.org",
          startedAt: at(3 * 3600_000),
          bytesUp: 100,
          bytesDown: 100,
        }),
      ],
    });

    const [all, alice, rejected, lastHour, page, human] = await Promise.all([
      ctl("sessions", "list", "--json"),
      ctl("sessions", "list", "--user", "alice", "--dest", "*.example.com", "--json"),
      ctl("sessions", "list", "--status", "rejected,failed", "--decision", "block", "--json"),
      ctl("sessions", "list", "--from", "1h", "--sort", "bytes", "--asc", "--json"),
      ctl("sessions", "list", "--limit", "2", "--node", "relay-s"),
      ctl("sessions", "get", ids[0]!),
    ]);
    type Page = { items: { id: string }[]; nextCursor: string | null };
    const idsOf = (r: typeof all) => (JSON.parse(ok(r)) as Page).items.map((s) => s.id);
    expect(idsOf(all)).toEqual([ids[1], ids[0], ids[2]]);
    expect(idsOf(alice)).toEqual([ids[0]]);
    expect(idsOf(rejected)).toEqual([ids[1]]);
    expect(idsOf(lastHour)).toEqual([ids[1], ids[0]]);
    const cursor = /\(more: --cursor (\S+)\)$/m.exec(ok(page))?.[1];
    expect(cursor).toBeDefined();
    expect(
      idsOf(await ctl("sessions", "list", "--limit", "2", "--cursor", cursor!, "--json")),
    ).toEqual([ids[2]]);
    expect(ok(human)).toMatch(/^destinationHost\s+api\.example\.com$/m);

    const got = JSON.parse(ok(await ctl("sessions", "get", ids[1]!, "--json"))) as {
      ruleId: string;
      node: string;
    };
    expect(got).toMatchObject({ ruleId: "no-blocked", node: "relay-s" });

    const stats = JSON.parse(ok(await ctl("stats", "--from", "1d", "--json"))) as {
      totals: { sessions: number; rejected: number; bytesDown: number };
    };
    expect(stats.totals).toMatchObject({ sessions: 3, rejected: 1, bytesDown: 5100 });
    const humanStats = ok(await ctl("stats", "--user", "alice", "--top", "3"));
    expect(humanStats).toMatch(/^sessions\s+2$/m);
    expect(humanStats).toMatch(/^relay-s\s+ap-south\s+2\s/m);
  });

  it("refuses bad filters before calling the API", async () => {
    const [status, from, unknownSession] = await Promise.all([
      ctl("sessions", "list", "--status", "open"),
      ctl("sessions", "list", "--from", "yesterday"),
      ctl("sessions", "get", randomUUID()),
    ]);
    expect(status).toMatchObject({ code: 2, stdout: "" });
    expect(from.code).toBe(2);
    expect(status.stderr).toBe(
      'edgesocksctl: --status: expected closed | failed | rejected, got "open"\n',
    );
    expect(from.stderr).toMatch(
      /^edgesocksctl: --from: expected an ISO time .* got "yesterday"\n$/,
    );
    expect(unknownSession.code).toBe(1);
    expect(unknownSession.stderr).toMatch(/not found \(API_E_NOT_FOUND\)\n$/);
  });
});
