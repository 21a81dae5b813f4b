import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { AppRouter } from "@edgesocks/api";
import type { SessionRecord } from "@edgesocks/api/wire";
import { createLogger } from "@edgesocks/telemetry";
import { createTRPCClient, createWSClient, httpLink, wsLink } from "@trpc/client";
import { type ControlApp, type ControlAppOptions, startControlApp } from "../app";

export type ApiClient = ReturnType<typeof createTRPCClient<AppRouter>>;

export interface TestControl extends AsyncDisposable {
  app: ControlApp;
  dir: string;
  databaseUrl: string;
  adminToken: string;
  /** An HTTP client with the first admin's token. */
  admin: ApiClient;
  http(token?: string | null): ApiClient;
  /** A WebSocket client; closed with the TestControl. */
  ws(token: string): { client: ApiClient; close: () => Promise<void> };
  close(): Promise<void>;
}

/** A temp dir with a database URL, removed by the returned dispose. */
export function tempDatabase(): { dir: string; databaseUrl: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), "edgesocks-control-"));
  return {
    dir,
    databaseUrl: `file:${join(dir, "control.db")}`,
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/**
 * A real control plane on 127.0.0.1:0 over a libSQL file in a temp dir, with real tRPC clients.
 * Pass `databaseUrl` to share a database with another instance (the dir is then not removed).
 */
export async function startTestControl(
  options: Partial<ControlAppOptions> & { adminToken?: string } = {},
): Promise<TestControl> {
  const temp = options.databaseUrl === undefined ? tempDatabase() : null;
  const dir = temp?.dir ?? mkdtempSync(join(tmpdir(), "edgesocks-control-"));
  const databaseUrl = options.databaseUrl ?? temp!.databaseUrl;
  let announced = "";
  const app = await startControlApp({
    logger: createLogger({ level: "silent" }),
    databaseUrl,
    host: "127.0.0.1",
    port: 0,
    adminTokenFile: join(dir, "admin-token"),
    announce: (line) => {
      announced += line;
    },
    pushDebounceMs: 20,
    pollIntervalMs: 200,
    keepAlivePingMs: 5000,
    ...options,
  });
  const adminToken = options.adminToken ?? app.controlPlane.bootstrapped.adminToken;
  if (adminToken === null) throw new Error(`no admin token (announced: ${announced})`);
  const wsClients: { close: () => Promise<void> }[] = [];
  const http = (token: string | null = adminToken) =>
    createTRPCClient<AppRouter>({
      links: [
        httpLink({
          url: `${app.server.url}/trpc`,
          headers: token === null ? {} : { authorization: `Bearer ${token}` },
        }),
      ],
    });
  const ws = (token: string) => {
    const socket = createWSClient({
      url: app.server.wsUrl,
      connectionParams: { token },
      retryDelayMs: () => 50,
    });
    const handle = {
      client: createTRPCClient<AppRouter>({ links: [wsLink({ client: socket })] }),
      close: () => socket.close(),
    };
    wsClients.push(handle);
    return handle;
  };
  let closed: Promise<void> | null = null;
  const close = () => {
    closed ??= (async () => {
      await Promise.all(wsClients.map((c) => c.close()));
      await app.close();
      if (options.databaseUrl === undefined) rmSync(dir, { recursive: true, force: true });
    })();
    return closed;
  };
  return {
    app,
    dir,
    databaseUrl,
    adminToken,
    admin: http(),
    http,
    ws,
    close,
    [Symbol.asyncDispose]: close,
  };
}

/** Enrolls a node and exchanges its token: returns the node token. */
export async function enrollNode(
  control: TestControl,
  name: string,
  region = "eu-west",
): Promise<string> {
  const { enrollmentToken } = await control.admin.nodes.enroll.mutate({ name, region });
  const { nodeToken } = await control.http(null).nodes.exchange.mutate({
    enrollmentToken,
    softwareVersion: "test",
    publicAddress: null,
  });
  return nodeToken;
}

/** A valid session record; `overrides` replace fields. */
export function sessionRecord(overrides: Partial<SessionRecord> = {}): SessionRecord {
  const startedAt = overrides.startedAt ?? new Date(Date.now() - 60_000).toISOString();
  const endedAt = overrides.endedAt ?? new Date(Date.parse(startedAt) + 1500).toISOString();
  return {
    id: randomUUID(),
    node: null,
    region: null,
    user: "alice",
    clientAddress: "127.0.0.1",
    clientPort: 40000,
    protocol: "socks5",
    transport: "tcp",
    command: "connect",
    destinationHost: "example.com",
    destinationAddress: "93.184.216.34",
    destinationPort: 443,
    startedAt,
    endedAt,
    durationMs: 1500,
    bytesUp: 100,
    bytesDown: 1000,
    packetsUp: 2,
    packetsDown: 3,
    status: "closed",
    decision: "allow",
    ruleId: null,
    closeReason: "client closed",
    ...overrides,
  };
}

/** Resolves when `check` returns true (polled), or rejects after `timeoutMs`. */
export async function waitFor(
  check: () => boolean | Promise<boolean>,
  timeoutMs = 5000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
