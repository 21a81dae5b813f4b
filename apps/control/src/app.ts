import { chmodSync, mkdirSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { type ControlPlane, type ControlPlaneOptions, startControlPlane } from "@edgesocks/api";
import { type Database, migrateDatabase, openDatabase } from "@edgesocks/db";
import {
  buildCommit,
  createRegistry,
  type Logger,
  type Registry,
  registerBuildInfo,
} from "@edgesocks/telemetry";
import { createPac } from "./pac";
import { type PacRegions, parsePacRegions } from "./pac-regions";
import { type ControlServer, type ServerOptions, startServer } from "./server";
import { VERSION } from "./version";

/** The commit this control plane runs, for edgesocks_control_build_info. */
const CONTROL_COMMIT = buildCommit(new URL(".", import.meta.url).pathname);

export interface ControlAppOptions {
  logger: Logger;
  databaseUrl: string;
  databaseAuthToken?: string | undefined;
  /** @default true */
  migrateOnStart?: boolean;
  host?: string;
  port?: number;
  /** Null keeps sessions forever. */
  sessionRetentionDays?: number | null;
  /** Where the first admin token of an empty database is written (0600). */
  adminTokenFile: string;
  presetAdminToken?: string | undefined;
  /** Where the first admin token is printed once. @default process.stdout */
  announce?: (line: string) => void;
  corsOrigins?: readonly string[];
  /** Extra names clients reach the server by (Host header); see ServerOptions.allowedHosts. */
  allowedHosts?: readonly string[];
  /** Proxies whose X-Forwarded-For names the client. @default none */
  trustedProxies?: readonly string[];
  /** Control-plane tuning the server does not need (tests, mostly). */
  controlPlane?: Pick<
    ControlPlaneOptions,
    "exchangeLimit" | "maxSubscriptionsPerSocket" | "tokenRecheckMs" | "tokenCacheTtlMs"
  >;
  /** Client networks/countries → region order of `GET /proxy.pac` (parsePacRegions). @default none: by name */
  pacRegions?: PacRegions;
  adminDistDir?: string | null;
  maxBodyBytes?: number;
  wsMaxPayloadBytes?: number;
  /** Tuning, mostly for tests. */
  pollIntervalMs?: number;
  pushDebounceMs?: number;
  keepAlivePingMs?: number;
  keepAlivePongWaitMs?: number;
  slowConsumer?: ServerOptions["slowConsumer"];
  authLimit?: { maxFailures?: number; windowMs?: number };
}

export interface ControlApp extends AsyncDisposable {
  readonly database: Database;
  readonly controlPlane: ControlPlane;
  readonly server: ControlServer;
  readonly registry: Registry;
  close(): Promise<void>;
}

/** Opens the database, migrates it, starts the control plane and the server. */
export async function startControlApp(options: ControlAppOptions): Promise<ControlApp> {
  const { logger } = options;
  const database = await openDatabase({
    url: options.databaseUrl,
    authToken: options.databaseAuthToken,
  });
  let controlPlane: ControlPlane | undefined;
  try {
    if (options.migrateOnStart ?? true) await migrateDatabase(database);
    const registry = createRegistry();
    registerBuildInfo(registry, "control", { version: VERSION, commit: CONTROL_COMMIT });
    controlPlane = await startControlPlane({
      database,
      logger,
      registry,
      sessionRetentionDays: options.sessionRetentionDays ?? null,
      presetAdminToken: options.presetAdminToken,
      ...(options.pollIntervalMs === undefined ? {} : { pollIntervalMs: options.pollIntervalMs }),
      ...(options.pushDebounceMs === undefined ? {} : { pushDebounceMs: options.pushDebounceMs }),
      ...(options.authLimit === undefined ? {} : { authLimit: options.authLimit }),
      ...(options.trustedProxies === undefined ? {} : { trustedProxies: options.trustedProxies }),
      ...options.controlPlane,
    });
    const { adminToken, publishedVersion, epoch } = controlPlane.bootstrapped;
    if (adminToken !== null) {
      mkdirSync(dirname(options.adminTokenFile), { recursive: true });
      writeFileSync(options.adminTokenFile, `${adminToken}\n`, { mode: 0o600 });
      chmodSync(options.adminTokenFile, 0o600);
      const announce = options.announce ?? ((line: string) => process.stdout.write(`${line}\n`));
      announce(
        `First admin token (shown once; also written to ${options.adminTokenFile}):\n  ${adminToken}`,
      );
    } else {
      logger.info(
        { adminTokenFile: options.adminTokenFile },
        "admin token not shown again: the first one went to adminTokenFile on the first start; mint another in the admin app (Settings) or with admins.createToken",
      );
    }
    if (publishedVersion !== null) {
      logger.info({ version: publishedVersion, epoch }, "published the default policy");
    }
    let accepting = true;
    const plane = controlPlane;
    const server = await startServer({
      controlPlane: plane,
      logger,
      registry,
      ready: async () => {
        if (!accepting || plane.services.hub.current() === null) return false;
        await database.client.execute("SELECT 1");
        return true;
      },
      pac: createPac({
        db: plane.services.database.db,
        regions: options.pacRegions ?? parsePacRegions(""),
        heartbeatStaleMs: plane.services.heartbeatStaleMs,
        logger,
      }),
      ...pick(options, [
        "host",
        "port",
        "corsOrigins",
        "allowedHosts",
        "adminDistDir",
        "maxBodyBytes",
        "wsMaxPayloadBytes",
        "keepAlivePingMs",
        "keepAlivePongWaitMs",
        "slowConsumer",
      ]),
    });
    let closed: Promise<void> | null = null;
    const close = () => {
      // Shutdown order: not ready (load balancers stop sending), the server (no new requests,
      // WebSocket clients told to reconnect elsewhere), the control plane (timers, pollers,
      // ingest batches not yet queued), then the database (queued writes drain first).
      closed ??= (async () => {
        accepting = false;
        await server.close();
        await plane.close();
        await database.close();
      })();
      return closed;
    };
    return { database, controlPlane: plane, server, registry, close, [Symbol.asyncDispose]: close };
  } catch (error) {
    await controlPlane?.close();
    await database.close();
    throw error;
  }
}

function pick<T extends object, K extends keyof T>(source: T, keys: K[]): Partial<Pick<T, K>> {
  const out: Partial<Pick<T, K>> = {};
  for (const key of keys) if (source[key] !== undefined) out[key] = source[key];
  return out;
}
