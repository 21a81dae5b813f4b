import { randomUUID } from "node:crypto";
import type { SessionRecord } from "@edgesocks/api/wire";
import { TRPCClientError } from "@trpc/client";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import {
  type ApiClient,
  enrollNode,
  sessionRecord,
  startTestControl,
  type TestControl,
} from "./test-support/control";
import { heartbeat } from "./test-support/ctl";

let control: TestControl;
let relay: ApiClient;
let nodeToken: string;

beforeAll(async () => {
  control = await startTestControl();
  nodeToken = await enrollNode(control, "relay-1");
  relay = control.http(nodeToken);
});
afterAll(async () => {
  await control.close();
});

/** The appCode of a refused call (fails the test if the call succeeded). */
async function refusal(call: Promise<unknown>): Promise<{ appCode: string; message: string }> {
  const error = await call.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(TRPCClientError);
  const { data, message } = error as TRPCClientError<never>;
  return { appCode: (data as unknown as { appCode: string }).appCode, message };
}

/** The admin app's first two calls must answer whatever has been stored. */
async function adminPagesAnswer(): Promise<void> {
  const history = await control.admin.sessions.history.query({ limit: 500 });
  expect(history.items.length).toBeGreaterThan(0);
  const summary = await control.admin.stats.summary.query({
    from: "2030-01-01T00:00:00Z",
    to: "2030-01-02T00:00:00Z",
  });
  expect(summary.totals.sessions).toBeGreaterThan(0);
}

const TEXT_FIELDS = [
  "user",
  "clientAddress",
  "destinationHost",
  "destinationAddress",
  "ruleId",
  "closeReason",
  "node",
  "region",
] as const satisfies readonly (keyof SessionRecord)[];

const hostile = fc.oneof(
  fc
    .tuple(fc.string({ maxLength: 4 }), fc.integer({ min: 0xd800, max: 0xdfff }))
    .map(([a, unit]) => `${a}${String.fromCharCode(unit)}b`),
  fc.string({ maxLength: 4 }).map((a) => `${a}\u0000`),
  fc.constantFrom("\u001b[31m", "a\u007f", "\u0085", "x".repeat(5000)),
);

const at = (minutes: number) =>
  new Date(Date.parse("2030-01-01T00:00:00Z") + minutes * 60_000).toISOString();

describe("hostile text through the real control plane", () => {
  it("refuses poison strings in every text field of ingest, heartbeats and filters; reads keep answering", async () => {
    await relay.sessions.ingest.mutate({
      records: [sessionRecord({ startedAt: at(1), endedAt: at(2) })],
    });
    // The finding itself: this record used to abort the process on the next read.
    const poison = sessionRecord({ startedAt: at(3), closeReason: "a\ud800b" });
    expect((await refusal(relay.sessions.ingest.mutate({ records: [poison] }))).appCode).toBe(
      "API_E_BAD_INPUT",
    );
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...TEXT_FIELDS),
        hostile,
        fc.constantFrom("ingest", "heartbeat", "history", "stats"),
        async (field, value, where) => {
          const call =
            where === "ingest"
              ? relay.sessions.ingest.mutate({
                  records: [sessionRecord({ startedAt: at(4), [field]: value })],
                })
              : where === "heartbeat"
                ? relay.nodes.heartbeat.mutate({
                    ...heartbeat(null),
                    activeSessions: [
                      {
                        id: randomUUID(),
                        user: field === "user" ? value : "alice",
                        clientAddress: field === "clientAddress" ? value : "127.0.0.1",
                        clientPort: 1,
                        command: "connect",
                        transport: "tcp",
                        destinationHost: field === "destinationHost" ? value : null,
                        destinationAddress: field === "destinationAddress" ? value : null,
                        destinationPort: null,
                        startedAt: at(0),
                        bytesUp: 0,
                        bytesDown: 0,
                      },
                    ],
                    softwareVersion: field === "closeReason" ? value : "test",
                    publicAddress: field === "node" ? value : null,
                    epoch: field === "region" || field === "ruleId" ? value : null,
                  })
                : where === "history"
                  ? control.admin.sessions.history.query({
                      [field === "destinationHost" ? "destination" : "user"]: value,
                    })
                  : control.admin.stats.summary.query({
                      [field === "node" ? "node" : field === "region" ? "region" : "user"]: value,
                    });
          expect((await refusal(call)).appCode).toBe("API_E_BAD_INPUT");
        },
      ),
      { numRuns: 120 },
    );
    await adminPagesAnswer();
    const stored = await control.admin.sessions.history.query({ limit: 500 });
    expect(stored.items).toHaveLength(1);
  });

  it("reads around values an older version stored (invalid UTF-8 text, blobs) without crashing", async () => {
    const bad = [
      { id: randomUUID(), user: "CAST(x'61eda08062' AS TEXT)", host: "CAST(x'ff00fe' AS TEXT)" },
      { id: randomUUID(), user: "x'616c696365'", host: "x'ed9fbf'" },
    ];
    for (const row of bad) {
      await control.app.database.client.execute({
        sql: `INSERT INTO sessions (id, node, region, user, client_address, client_port, transport, destination_host, started_at_ms, ended_at_ms, duration_ms, bytes_up, bytes_down, bytes_total, packets_up, packets_down, status, close_reason, ingested_at_ms) VALUES (?, CAST(x'6ec0' AS TEXT), 'eu-west', ${row.user}, '127.0.0.1', 1, 'tcp', ${row.host}, ?, ?, 1, 1, 1, 2, 1, 1, 'closed', CAST(x'c328' AS TEXT), 0)`,
        args: [row.id, Date.parse(at(5)), Date.parse(at(6))],
      });
    }
    await control.app.controlPlane.services.ingest.rollups.flush();
    const history = await control.admin.sessions.history.query({ limit: 500 });
    const byId = new Map(history.items.map((item) => [item.id, item]));
    expect(byId.get(bad[0]!.id)?.user).toBe("a\ufffd\ufffd\ufffdb");
    expect(byId.get(bad[1]!.id)?.user).toBe("alice");
    expect((await control.admin.sessions.get.query({ id: bad[0]!.id })).closeReason).toBe(
      "\ufffd(",
    );
    await adminPagesAnswer();
    const summary = await control.admin.stats.summary.query({
      from: "2030-01-01T00:00:00Z",
      to: "2030-01-02T00:00:00Z",
    });
    expect(summary.totals.sessions).toBe(3);
    expect(summary.topUsersBySessions.map((u) => u.user)).toContain("alice");
    const one = await control.admin.stats.summary.query({
      user: "alice",
      from: "2030-01-01T00:00:00Z",
      to: "2030-01-02T00:00:00Z",
    });
    // The blob row is not the text "alice" to SQL's `user = ?`: only the ingested one counts.
    expect(one.totals.sessions).toBe(1);
  });
});

describe("bounded queries", () => {
  it("refuses a stats window over 400 days and series of more than 2000 buckets, naming the bound", async () => {
    const millennia = await refusal(
      control.admin.stats.summary.query({
        from: "1000-01-01T00:00:00Z",
        to: "2999-01-01T00:00:00Z",
      }),
    );
    expect(millennia.appCode).toBe("API_E_BAD_INPUT");
    const years = await refusal(
      control.admin.stats.summary.query({
        from: "2020-01-01T00:00:00Z",
        to: "2030-01-01T00:00:00Z",
      }),
    );
    expect(years.message).toContain("at most 400 days");
    const buckets = await refusal(
      control.admin.stats.summary.query({
        from: "2030-01-01T00:00:00Z",
        to: "2030-01-02T00:00:00Z",
        bucketMs: 1000,
      }),
    );
    expect(buckets.message).toContain("at most 2000");
    expect(
      (await refusal(control.admin.sessions.history.query({ from: at(5), to: at(1) }))).message,
    ).toContain("before to");
  });

  it("refuses an HTTP batch and a WebSocket message of more than 10 calls", async () => {
    const paths = (n: number) => Array.from({ length: n }, () => "whoami").join(",");
    const input = (n: number) =>
      encodeURIComponent(
        JSON.stringify(Object.fromEntries(Array.from({ length: n }, (_, i) => [i, {}]))),
      );
    const get = (n: number) =>
      fetch(`${control.app.server.url}/trpc/${paths(n)}?batch=1&input=${input(n)}`, {
        headers: { authorization: `Bearer ${control.adminToken}` },
      });
    expect((await get(10)).status).toBe(200);
    const over = await get(11);
    expect(over.status).toBe(400);
    expect(JSON.stringify(await over.json())).toContain("at most 10 calls");

    const socket = new WebSocket(control.app.server.wsUrl);
    await new Promise((resolve, reject) => socket.once("open", resolve).once("error", reject));
    const answers: unknown[] = [];
    const answered = new Promise<void>((resolve) =>
      socket.on("message", (data) => {
        answers.push(JSON.parse(String(data)));
        resolve();
      }),
    );
    socket.send(JSON.stringify({ method: "connectionParams", data: { token: nodeToken } }));
    socket.send(
      JSON.stringify(
        Array.from({ length: 11 }, (_, i) => ({
          id: i + 1,
          method: "mutation",
          params: { path: "nodes.heartbeat", input: heartbeat(null) },
        })),
      ),
    );
    await answered;
    socket.close();
    expect(JSON.stringify(answers)).toContain("at most 10 calls");
  });

  it("keeps the event loop turning while a heavy stats call reads (its SQL runs on a thread)", async () => {
    // 300,000 sessions the rollups have not counted yet: every summary scans them all.
    const startMs = Date.parse("2031-01-01T00:00:00Z");
    await control.app.database.client.execute({
      sql: "INSERT INTO sessions (id, node, region, user, client_address, client_port, transport, destination_host, started_at_ms, ended_at_ms, duration_ms, bytes_up, bytes_down, bytes_total, packets_up, packets_down, status, close_reason, ingested_at_ms) WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 300000) SELECT printf('00000000-0000-4000-9000-%012d', i), 'relay-1', 'eu-west', 'u' || (i % 500), '127.0.0.1', 1, 'tcp', 'h' || (i % 3000) || '.test', ? + i * 100, ? + i * 100 + 1, 1, 1, 1, 2, 1, 1, 'closed', 'done', 0 FROM n",
      args: [startMs, startMs],
    });
    let turns = 0;
    let reading = true;
    const spin = () => {
      turns += 1;
      if (reading) setImmediate(spin);
    };
    setImmediate(spin);
    const summary = await control.admin.stats.summary.query({
      from: "2031-01-01T00:00:00Z",
      to: "2031-01-02T00:00:00Z",
      bucketMs: 3_600_000,
    });
    reading = false;
    expect(summary.totals.sessions).toBe(300_000);
    // Run on the event loop, the scans would allow a turn only between their few statements.
    expect(turns).toBeGreaterThan(100);
    const beat = await relay.nodes.heartbeat.mutate(heartbeat(null));
    expect(beat.serverTime).toBeTypeOf("string");
  });
});
