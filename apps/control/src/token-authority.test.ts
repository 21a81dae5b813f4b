import type { AppRouter } from "@edgesocks/api";
import { migrateDatabase, openDatabase } from "@edgesocks/db";
import { createTRPCClient, createWSClient, wsLink } from "@trpc/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  enrollNode,
  startTestControl,
  type TestControl,
  tempDatabase,
  waitFor,
} from "./test-support/control";
import { heartbeat } from "./test-support/ctl";

/** A WebSocket tRPC client that records how its socket was closed (and reconnects at once, as relays do). */
function socket(control: TestControl, token: string) {
  const closes: number[] = [];
  const ws = createWSClient({
    url: control.app.server.wsUrl,
    connectionParams: { token },
    retryDelayMs: () => 50,
    onClose: (cause) => closes.push(cause?.code ?? 0),
  });
  const client = createTRPCClient<AppRouter>({ links: [wsLink({ client: ws })] });
  return { client, closes, [Symbol.asyncDispose]: () => ws.close() };
}

const codeOf = (call: Promise<unknown>) =>
  call.then(
    () => "OK",
    (e: { data?: { code?: string } }) => e.data?.code ?? "NO_CODE",
  );

const temp = tempDatabase();
let a: TestControl;
let b: TestControl;
beforeAll(async () => {
  {
    await using database = await openDatabase({ url: temp.databaseUrl });
    await migrateDatabase(database);
  }
  a = await startTestControl({
    databaseUrl: temp.databaseUrl,
    migrateOnStart: false,
    controlPlane: { maxSubscriptionsPerSocket: 3 },
  });
  b = await startTestControl({
    databaseUrl: temp.databaseUrl,
    migrateOnStart: false,
    adminToken: a.adminToken,
  });
});
afterAll(async () => {
  await b?.close();
  await a?.close();
  temp.remove();
});

describe("authority on open WebSockets", () => {
  it("a revoked admin token can do nothing more on an already-open socket, and the socket closes", async () => {
    const { token } = await a.admin.admins.create.mutate({ name: "ops-1", role: "admin" });
    await using open = socket(a, token);
    expect(await open.client.whoami.query()).toEqual({ name: "ops-1", role: "admin" });
    const [ops] = (await a.admin.admins.list.query()).filter((x) => x.name === "ops-1");
    await a.admin.admins.revokeToken.mutate({ id: ops!.tokens[0]!.id });

    await waitFor(() => open.closes.includes(4401), 1500);
    expect(await codeOf(open.client.admins.create.mutate({ name: "ghost", role: "admin" }))).toBe(
      "UNAUTHORIZED",
    );
    expect((await a.admin.admins.list.query()).map((x) => x.name)).not.toContain("ghost");
  });

  it("forgets a socket once it closes (no guard entry outlives its socket)", async () => {
    const guard = a.app.controlPlane.services.guard;
    const before = guard.size;
    {
      await using open = socket(a, a.adminToken);
      expect(await codeOf(open.client.whoami.query())).toBe("OK");
      expect(guard.size).toBe(before + 1);
    }
    await waitFor(() => guard.size === before);
  });

  it("a revocation made on another instance closes the socket within about a second", async () => {
    const { token } = await a.admin.admins.create.mutate({ name: "ops-2", role: "admin" });
    await using open = socket(a, token);
    expect(await codeOf(open.client.whoami.query())).toBe("OK");
    const [ops] = (await b.admin.admins.list.query()).filter((x) => x.name === "ops-2");
    await b.admin.admins.revokeToken.mutate({ id: ops!.tokens[0]!.id });
    await waitFor(() => open.closes.includes(4401), 3000);
  });

  it("a replaced node's config.watch ends and its old token cannot set the public address", async () => {
    const oldToken = await enrollNode(a, "relay-replaced");
    await using open = socket(a, oldToken);
    const events: number[] = [];
    let ended = false;
    open.client.config.watch.subscribe(
      { version: null, epoch: null },
      {
        onData: (event) => events.push(event.data.version),
        onError: () => {
          ended = true;
        },
        onComplete: () => {
          ended = true;
        },
      },
    );
    await waitFor(() => events.length === 1);

    await a.admin.nodes.enroll.mutate({
      name: "relay-replaced",
      region: "eu-west",
      replace: true,
    });
    await waitFor(() => open.closes.includes(4401) && ended, 1500);
    expect(await codeOf(open.client.nodes.heartbeat.mutate(heartbeat("203.0.113.66:1080")))).toBe(
      "UNAUTHORIZED",
    );
    expect(
      await codeOf(a.http(oldToken).nodes.heartbeat.mutate(heartbeat("203.0.113.66:1080"))),
    ).toBe("UNAUTHORIZED");
    const node = await a.admin.nodes.get.query({ name: "relay-replaced" });
    expect(node.publicAddress).toBeNull();
  });

  it("caps the subscriptions one socket holds, with a clear error, and frees a slot when one stops", async () => {
    const nodeToken = await enrollNode(a, "relay-greedy");
    await using open = socket(a, nodeToken);
    const errors: string[] = [];
    const started: number[] = [];
    const subscribe = (i: number) =>
      open.client.config.watch.subscribe(
        { version: null, epoch: null },
        {
          onData: () => started.push(i),
          onError: (error) => errors.push(`${i}: ${error.message}`),
        },
      );
    const subs = [subscribe(0), subscribe(1), subscribe(2)];
    await waitFor(() => started.length === 3);
    subscribe(3);
    await waitFor(() => errors.length === 1);
    expect(errors[0]).toMatch(/^3: this WebSocket already holds 3 subscriptions/);
    subs[0]!.unsubscribe();
    await waitFor(async () => {
      subscribe(4);
      await new Promise((resolve) => setTimeout(resolve, 100));
      return started.includes(4);
    }, 3000);
  });
});

describe("nodes.disable, enable, remove", () => {
  it("disabling closes the node's sockets and refuses its token; enabling lets it back; both audited", async () => {
    const nodeToken = await enrollNode(a, "relay-off");
    await using open = socket(a, nodeToken);
    expect(await codeOf(open.client.nodes.heartbeat.mutate(heartbeat(null)))).toBe("OK");

    const disabled = await a.admin.nodes.disable.mutate({ name: "relay-off" });
    expect(disabled).toMatchObject({ name: "relay-off", disabled: true });
    await waitFor(() => open.closes.includes(4401), 1500);
    expect(await codeOf(a.http(nodeToken).nodes.heartbeat.mutate(heartbeat(null)))).toBe(
      "UNAUTHORIZED",
    );
    // A disabled node raises no config-status alert.
    const metrics = await (await fetch(`${a.app.server.url}/metrics`)).text();
    expect(metrics).not.toMatch(/edgesocks_control_node_config_status\{[^}]*node="relay-off"/);

    expect(await a.admin.nodes.enable.mutate({ name: "relay-off" })).toMatchObject({
      disabled: false,
    });
    expect(await codeOf(a.http(nodeToken).nodes.heartbeat.mutate(heartbeat(null)))).toBe("OK");
    const audit = await a.admin.audit.list.query({});
    const actions = audit.items
      .filter((row) => row.target === "node relay-off")
      .map((r) => r.action);
    expect(actions).toEqual(expect.arrayContaining(["nodes.disable", "nodes.enable"]));
  });

  it("removing deletes the node: its token stops working, an abandoned enrollment is gone", async () => {
    const nodeToken = await enrollNode(a, "relay-gone");
    await using open = socket(a, nodeToken);
    expect(await codeOf(open.client.nodes.heartbeat.mutate(heartbeat(null)))).toBe("OK");
    const { enrollmentToken } = await a.admin.nodes.enroll.mutate({
      name: "never-started",
      region: "eu-west",
    });

    await a.admin.nodes.remove.mutate({ name: "relay-gone" });
    await a.admin.nodes.remove.mutate({ name: "never-started" });
    await waitFor(() => open.closes.includes(4401), 1500);
    expect(await codeOf(a.http(nodeToken).nodes.heartbeat.mutate(heartbeat(null)))).toBe(
      "UNAUTHORIZED",
    );
    expect(
      await codeOf(
        a.http(null).nodes.exchange.mutate({
          enrollmentToken,
          softwareVersion: "test",
          publicAddress: null,
        }),
      ),
    ).toBe("UNAUTHORIZED");
    const names = (await a.admin.nodes.list.query()).map((n) => n.name);
    expect(names).not.toContain("relay-gone");
    expect(names).not.toContain("never-started");
    expect(await codeOf(a.admin.nodes.remove.mutate({ name: "relay-gone" }))).toBe("NOT_FOUND");
  });
});

describe("public address constraints", () => {
  const exchange = async (control: TestControl, name: string, publicAddresses?: string[]) => {
    const { enrollmentToken } = await control.admin.nodes.enroll.mutate({
      name,
      region: "eu-west",
      ...(publicAddresses ? { publicAddresses } : {}),
    });
    return (publicAddress: string | null) =>
      control.http(null).nodes.exchange.mutate({
        enrollmentToken,
        softwareVersion: "test",
        publicAddress,
      });
  };

  it("refuses loopback, link-local and malformed addresses unless the enrollment lists them", async () => {
    const plain = await exchange(a, "relay-plain");
    await expect(plain("127.0.0.1:1080")).rejects.toThrow(
      'publicAddress: "127.0.0.1:1080" is loopback',
    );
    await expect(plain("localhost:1080")).rejects.toThrow("is loopback");
    await expect(plain("[fe80::1]:1080")).rejects.toThrow("is linkLocal");
    await expect(plain("relay.example.com")).rejects.toThrow("is not HOST:PORT");
    const { nodeToken } = await plain("relay.example.com:1080");
    expect(
      await codeOf(a.http(nodeToken).nodes.heartbeat.mutate(heartbeat("169.254.9.9:1080"))),
    ).toBe("BAD_REQUEST");
    expect(
      await codeOf(a.http(nodeToken).nodes.heartbeat.mutate(heartbeat("198.51.100.7:1080"))),
    ).toBe("OK");

    const pinned = await exchange(a, "relay-pinned", ["127.0.0.1:1080"]);
    const { nodeToken: pinnedToken } = await pinned("127.0.0.1:1080");
    const other = await a
      .http(pinnedToken)
      .nodes.heartbeat.mutate(heartbeat("198.51.100.8:1080"))
      .catch((e: Error) => e.message);
    expect(other).toMatch(/not in the node's enrolled publicAddresses \(127\.0\.0\.1:1080\)/);
    expect((await a.admin.nodes.get.query({ name: "relay-pinned" })).publicAddress).toBe(
      "127.0.0.1:1080",
    );
  });
});

describe("subscriptions over HTTP", () => {
  it("are refused: only a WebSocket can be closed when its token loses its rights", async () => {
    const nodeToken = await enrollNode(a, "relay-sse");
    const input = encodeURIComponent(JSON.stringify({ version: null, epoch: null }));
    const res = await fetch(`${a.app.server.url}/trpc/config.watch?input=${input}`, {
      headers: { authorization: `Bearer ${nodeToken}`, accept: "text/event-stream" },
    });
    const body = await res.text();
    expect(body).toContain("subscriptions are served over the WebSocket (/trpc) only");
  });
});
