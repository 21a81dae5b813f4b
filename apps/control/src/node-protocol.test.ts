import type { AppRouter } from "@edgesocks/api";
import type { NodeCommand } from "@edgesocks/api/wire";
import { validateSnapshot } from "@edgesocks/policy";
import { TRPCClientError } from "@trpc/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  enrollNode,
  sessionRecord,
  startTestControl,
  type TestControl,
  waitFor,
} from "./test-support/control";

/** What config.watch yields (ConfigEvent; `snapshot` is unknown until validated). */
type WatchedEvent = { version: number; epoch: string; snapshot?: unknown };

let control: TestControl;
beforeAll(async () => {
  control = await startTestControl({ pushDebounceMs: 150 });
});
afterAll(async () => {
  await control.close();
});

interface Watch {
  events: WatchedEvent[];
  ids: string[];
  stop: () => void;
}

function watch(
  client: ReturnType<TestControl["ws"]>["client"],
  input: { version: number | null; epoch: string | null; lastEventId?: string },
): Watch {
  const events: WatchedEvent[] = [];
  const ids: string[] = [];
  const subscription = client.config.watch.subscribe(input, {
    onData: (tracked) => {
      ids.push(tracked.id);
      events.push(tracked.data);
    },
  });
  return { events, ids, stop: () => subscription.unsubscribe() };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function statusOf(name: string) {
  const node = await control.admin.nodes.get.query({ name });
  return { status: node.configStatus, reason: node.rejectionReason };
}

describe("enrollment", () => {
  it("exchanges an enrollment token once for a node token", async () => {
    const { enrollmentToken, node } = await control.admin.nodes.enroll.mutate({
      name: "relay-once",
      region: "us-east",
    });
    expect(enrollmentToken).toMatch(/^ese_/);
    expect(node).toMatchObject({ enrolled: false, configStatus: "NOT SENT" });
    const anonymous = control.http(null);
    const first = await anonymous.nodes.exchange.mutate({
      enrollmentToken,
      softwareVersion: "1.0.0",
      publicAddress: "192.0.2.10:1080",
    });
    expect(first).toMatchObject({ name: "relay-once", region: "us-east" });
    expect(first.nodeToken).toMatch(/^esn_/);
    const again = await anonymous.nodes.exchange
      .mutate({ enrollmentToken, softwareVersion: "1.0.0", publicAddress: null })
      .catch((e: unknown) => e);
    expect(again).toBeInstanceOf(TRPCClientError);
    expect((again as TRPCClientError<AppRouter>).data?.code).toBe("UNAUTHORIZED");
    const listed = await control.admin.nodes.list.query();
    expect(listed.find((n) => n.name === "relay-once")).toMatchObject({ enrolled: true });
  });

  it("keeps node and admin tokens apart", async () => {
    const nodeToken = await enrollNode(control, "relay-apart");
    const asNode = await control
      .http(nodeToken)
      .users.list.query()
      .catch((e: unknown) => e);
    expect((asNode as TRPCClientError<AppRouter>).data?.code).toBe("UNAUTHORIZED");
    const asAdmin = await control.admin.sessions.ingest
      .mutate({ records: [sessionRecord()] })
      .catch((e: unknown) => e);
    expect((asAdmin as TRPCClientError<AppRouter>).data?.code).toBe("UNAUTHORIZED");
  });
});

describe("config.watch and config.ack", () => {
  it("sends the newest version, then each burst's newest, and tracks acks and rejections", async () => {
    const nodeToken = await enrollNode(control, "relay-watch");
    const relay = control.ws(nodeToken);
    const start = await control.admin.snapshots.get.query({});
    const feed = watch(relay.client, { version: null, epoch: null });
    await waitFor(() => feed.events.length === 1);
    expect(feed.events[0]).toMatchObject({ version: start.version, epoch: start.epoch });
    expect(feed.ids).toEqual([String(start.version)]);
    const validated = validateSnapshot(feed.events[0]!.snapshot);
    expect(validated.ok).toBe(true);
    await waitFor(async () => (await statusOf("relay-watch")).status === "STALE");

    await relay.client.config.ack.mutate({
      status: "applied",
      version: start.version,
      epoch: start.epoch,
    });
    expect(await statusOf("relay-watch")).toEqual({ status: "SYNCED", reason: null });

    // A burst of three edits inside the debounce window arrives as its newest version only.
    let newest = 0;
    for (const name of ["burst-1", "burst-2", "burst-3"]) {
      newest = (await control.admin.groups.create.mutate({ name })).version;
    }
    await waitFor(() => feed.events.length === 2);
    await sleep(300);
    expect(feed.events.map((e) => e.version)).toEqual([start.version, newest]);
    expect(await statusOf("relay-watch")).toMatchObject({ status: "STALE" });

    await relay.client.config.ack.mutate({
      status: "rejected",
      version: newest,
      epoch: start.epoch,
      reason: "rules[0].destinations[0]: not supported by this relay",
    });
    expect(await statusOf("relay-watch")).toEqual({
      status: "ERROR",
      reason: "rules[0].destinations[0]: not supported by this relay",
    });
    const metrics = await (await fetch(`${control.app.server.url}/metrics`)).text();
    expect(metrics).toMatch(
      /edgesocks_control_node_config_status\{node="relay-watch",region="eu-west",status="ERROR"\} 1/,
    );
    expect(metrics).toMatch(/edgesocks_control_connected_nodes [1-9]/);
    feed.stop();
  });

  it("resumes from the version a relay holds, and resyncs a relay from another epoch", async () => {
    const nodeToken = await enrollNode(control, "relay-resume");
    const relay = control.ws(nodeToken);
    const current = await control.admin.snapshots.get.query({});
    const upToDate = watch(relay.client, { version: current.version, epoch: current.epoch });
    const resumed = watch(relay.client, {
      version: 1,
      epoch: current.epoch,
      lastEventId: String(current.version),
    });
    const otherEpoch = watch(relay.client, { version: current.version, epoch: "restored-db" });
    await waitFor(() => otherEpoch.events.length === 1);
    expect(otherEpoch.events[0]?.version).toBe(current.version);
    await sleep(250);
    expect(upToDate.events).toEqual([]);
    expect(resumed.events).toEqual([]);

    const { version } = await control.admin.groups.create.mutate({ name: "after-resume" });
    await waitFor(() => upToDate.events.length === 1 && resumed.events.length === 1);
    expect(upToDate.events[0]?.version).toBe(version);
    expect(resumed.ids).toEqual([String(version)]);
    for (const feed of [upToDate, resumed, otherEpoch]) feed.stop();
  });
});

describe("heartbeats, active sessions and commands", () => {
  it("lists sessions from heartbeats and forwards terminate to the relay holding it", async () => {
    const nodeToken = await enrollNode(control, "relay-live", "ap-south");
    const relay = control.ws(nodeToken);
    const commands: NodeCommand[] = [];
    const sub = relay.client.nodes.commands.subscribe(undefined, {
      onData: (command) => commands.push(command),
    });
    const active = sessionRecord({ user: "erin" });
    await relay.client.nodes.heartbeat.mutate({
      softwareVersion: "1.2.3",
      publicAddress: null,
      appliedVersion: null,
      epoch: null,
      counters: {
        connectionsActive: 1,
        sessionsActive: 1,
        sessionsTotal: 10,
        bytesUp: 5,
        bytesDown: 6,
        rejectedTotal: 0,
        spoolBacklogBytes: 0,
      },
      activeSessions: [
        {
          id: active.id,
          user: "erin",
          clientAddress: "127.0.0.1",
          clientPort: 5555,
          command: "connect",
          transport: "tcp",
          destinationHost: "example.com",
          destinationAddress: null,
          destinationPort: 443,
          startedAt: active.startedAt,
          bytesUp: 10,
          bytesDown: 20,
        },
      ],
      activeSessionsTruncated: false,
    });
    const listed = await control.admin.sessions.active.query({ user: "erin" });
    expect(listed.items).toEqual([
      expect.objectContaining({ id: active.id, node: "relay-live", region: "ap-south" }),
    ]);
    const node = await control.admin.nodes.get.query({ name: "relay-live" });
    expect(node).toMatchObject({ online: true, softwareVersion: "1.2.3", activeSessions: 1 });

    // Commands are stored first, so one sent before the subscription is registered still arrives.
    const sent = await control.admin.sessions.terminate.mutate({ id: active.id });
    expect(sent).toEqual({ node: "relay-live", sent: true });
    await waitFor(() => commands.length === 1);
    expect(commands[0]).toEqual({ type: "terminate", sessionId: active.id, by: "admin" });
    sub.unsubscribe();
  });
});

describe("sessions.ingest", () => {
  it("is idempotent under retries, with exact counts, and takes node and region from the token", async () => {
    const nodeToken = await enrollNode(control, "relay-ingest", "eu-central");
    const relay = control.ws(nodeToken);
    const records = Array.from({ length: 300 }, (_, i) =>
      sessionRecord({ user: "ingest-user", node: "forged", region: "forged", clientPort: i }),
    );
    const first = await relay.client.sessions.ingest.mutate({ records: records.slice(0, 200) });
    expect(first).toEqual({ inserted: 200, duplicates: 0 });
    // Retries of the first batch race with a batch that overlaps it: every record lands once.
    const results = await Promise.all([
      relay.client.sessions.ingest.mutate({ records: records.slice(0, 200) }),
      relay.client.sessions.ingest.mutate({ records: records.slice(100, 300) }),
      relay.client.sessions.ingest.mutate({ records: records.slice(100, 300) }),
      control.http(nodeToken).sessions.ingest.mutate({ records: records.slice(0, 200) }),
    ]);
    expect(results.reduce((sum, r) => sum + r.inserted, 0)).toBe(100);
    expect(results.reduce((sum, r) => sum + r.duplicates, 0)).toBe(700);
    const stored = await control.admin.sessions.history.query({ user: "ingest-user", limit: 500 });
    expect(stored.items).toHaveLength(300);
    expect(new Set(stored.items.map((s) => s.id)).size).toBe(300);
    expect(stored.items.every((s) => s.node === "relay-ingest" && s.region === "eu-central")).toBe(
      true,
    );
    const one = await control.admin.sessions.get.query({ id: records[0]!.id });
    expect(one).toMatchObject({ id: records[0]!.id, clientPort: 0, bytesUp: 100, bytesDown: 1000 });

    const metrics = await (await fetch(`${control.app.server.url}/metrics`)).text();
    expect(metrics).toMatch(/edgesocks_control_ingest_rows_total\{result="inserted"\} 300/);
    expect(metrics).toMatch(/edgesocks_control_ingest_rows_total\{result="duplicate"\} 700/);
  });

  it("refuses an invalid batch as a whole with BAD_REQUEST", async () => {
    const nodeToken = await enrollNode(control, "relay-bad");
    const bad = await control
      .http(nodeToken)
      .sessions.ingest.mutate({ records: [sessionRecord({ id: "not-a-uuid" })] })
      .catch((e: unknown) => e);
    expect((bad as TRPCClientError<AppRouter>).data?.code).toBe("BAD_REQUEST");
  });
});
