import type { Database } from "@edgesocks/db";
import { nodes } from "@edgesocks/db/schema";
import type { Logger, Registry } from "@edgesocks/telemetry";
import { isNull } from "drizzle-orm";
import { type Context, createContextFactory, type Services } from "./context";
import { createControlMetrics } from "./metrics";
import { appRouter } from "./router";
import { AuthLimiter, type AuthLimiterOptions } from "./services/auth-limiter";
import { type BootstrapResult, bootstrap } from "./services/bootstrap";
import { TrustedProxies } from "./services/client-address";
import { ConnectionGuard } from "./services/connection-guard";
import { NodeCommandBus } from "./services/node-commands";
import { configStatus } from "./services/node-status";
import { PolicyService } from "./services/policy-service";
import { pruneQuotaUsage, QuotaAnnouncer } from "./services/quota-usage";
import { deleteExpiredSessions } from "./services/retention";
import { SessionIngest } from "./services/session-ingest";
import { SnapshotHub } from "./services/snapshot-hub";
import { TokenResolver } from "./services/token-resolver";

export interface ControlPlaneOptions {
  /** An open, migrated database. The control plane does not close it. */
  database: Database;
  logger: Logger;
  registry: Registry;
  /** Quiet time that batches a burst of policy edits into one push, in ms. @default 100 */
  pushDebounceMs?: number;
  /** How often other instances' snapshot versions and node commands are looked for, in ms. @default 1000 */
  pollIntervalMs?: number;
  authLimit?: AuthLimiterOptions;
  /**
   * Failed `nodes.exchange` guesses allowed per enrollment-token prefix, and fleet-wide
   * (`globalMaxFailures`), within `windowMs`. @default { maxFailures: 20, globalMaxFailures: 200, windowMs: 60000 }
   */
  exchangeLimit?: { maxFailures?: number; globalMaxFailures?: number; windowMs?: number };
  /** Proxies (addresses or CIDRs) whose X-Forwarded-For names the client. @default none */
  trustedProxies?: readonly string[];
  /** Subscriptions one WebSocket may hold. @default 16 */
  maxSubscriptionsPerSocket?: number;
  /** How often open WebSockets' tokens are re-checked, in ms. @default 1000 */
  tokenRecheckMs?: number;
  /** How long a node enrollment token is valid, in ms. @default 86400000 (1 day) */
  enrollmentTtlMs?: number;
  /** A node not heard from for this long is offline (its active sessions are dropped), in ms. @default 30000 */
  heartbeatStaleMs?: number;
  /** How long a token lookup is cached, in ms. @default 5000 */
  tokenCacheTtlMs?: number;
  /** Sessions older than this many days are deleted; null keeps them forever. @default null */
  sessionRetentionDays?: number | null;
  /** How often the retention job runs, in ms. @default 3600000 */
  retentionIntervalMs?: number;
  /** First admin token to create on an empty database instead of a random one. */
  presetAdminToken?: string | undefined;
}

export interface ControlPlane extends AsyncDisposable {
  readonly router: typeof appRouter;
  readonly services: Services;
  /** tRPC createContext for the HTTP and WebSocket adapters. */
  readonly createContext: ReturnType<typeof createContextFactory>;
  /** What start() found or created (first admin token, version 1). */
  readonly bootstrapped: BootstrapResult;
  /** Runs the retention job now; resolves with the number of sessions deleted. */
  runRetention(): Promise<number>;
  /** Stops timers and fails pending ingest; the database stays open. */
  close(): Promise<void>;
}

/**
 * Builds one control-plane instance over a migrated database: bootstraps an empty database,
 * loads the newest snapshot, starts the pollers (other instances' versions, node commands) and
 * the retention job.
 */
export async function startControlPlane(options: ControlPlaneOptions): Promise<ControlPlane> {
  const { database, logger } = options;
  let hub: SnapshotHub | undefined;
  const metrics = createControlMetrics(options.registry, {
    writeQueueDepth: () => database.writes.depth,
    nodeStatuses: async () => {
      // A disabled node is not expected to connect: it raises no NOT SENT alert.
      const rows = await database.db.select().from(nodes).where(isNull(nodes.disabledAtMs));
      const newest = hub?.current() ?? null;
      return rows.map((row) => ({
        node: row.name,
        region: row.region,
        status: configStatus(row, newest).status,
      }));
    },
  });
  hub = new SnapshotHub({
    database,
    logger,
    metrics,
    ...(options.pushDebounceMs === undefined ? {} : { debounceMs: options.pushDebounceMs }),
    ...(options.pollIntervalMs === undefined ? {} : { pollIntervalMs: options.pollIntervalMs }),
  });
  const snapshotHub = hub;
  const policy = new PolicyService(database, (snapshot) => snapshotHub.published(snapshot));
  const commands = new NodeCommandBus({
    database,
    logger,
    metrics,
    ...(options.pollIntervalMs === undefined ? {} : { pollIntervalMs: options.pollIntervalMs }),
  });
  const tokens = new TokenResolver({
    database,
    ...(options.tokenCacheTtlMs === undefined ? {} : { cacheTtlMs: options.tokenCacheTtlMs }),
  });
  const exchangeLimit = options.exchangeLimit ?? {};
  const exchangeWindowMs = exchangeLimit.windowMs ?? 60_000;
  const services: Services = {
    database,
    logger,
    metrics,
    hub: snapshotHub,
    policy,
    ingest: new SessionIngest({ database, metrics }),
    commands,
    quotas: new QuotaAnnouncer(),
    authLimiter: new AuthLimiter(options.authLimit),
    exchangeLimiter: new AuthLimiter({
      maxFailures: exchangeLimit.maxFailures ?? 20,
      windowMs: exchangeWindowMs,
    }),
    exchangeGlobalLimiter: new AuthLimiter({
      maxFailures: exchangeLimit.globalMaxFailures ?? 200,
      windowMs: exchangeWindowMs,
    }),
    tokens,
    guard: new ConnectionGuard({
      tokens,
      logger,
      ...(options.tokenRecheckMs === undefined ? {} : { intervalMs: options.tokenRecheckMs }),
    }),
    trustedProxies: new TrustedProxies(options.trustedProxies ?? []),
    maxSubscriptionsPerSocket: options.maxSubscriptionsPerSocket ?? 16,
    watching: new Map(),
    enrollmentTtlMs: options.enrollmentTtlMs ?? 86_400_000,
    heartbeatStaleMs: options.heartbeatStaleMs ?? 30_000,
  };

  const bootstrapped = await bootstrap({
    database,
    policy,
    presetAdminToken: options.presetAdminToken,
  });
  await snapshotHub.start();
  commands.start();
  services.guard.start();

  const retentionDays = options.sessionRetentionDays ?? null;
  const runRetention = async () => {
    if (retentionDays === null) return 0;
    const deleted = await deleteExpiredSessions({
      database,
      cutoffMs: Date.now() - retentionDays * 86_400_000,
    });
    metrics.retentionDeletedTotal.inc(deleted);
    if (deleted > 0) logger.info({ deleted, retentionDays }, "deleted expired sessions");
    return deleted;
  };
  const retentionRun = () =>
    void runRetention().catch((error: unknown) =>
      logger.warn({ err: String(error) }, "session retention failed"),
    );
  const retentionTimer =
    retentionDays === null
      ? null
      : setInterval(retentionRun, options.retentionIntervalMs ?? 3_600_000);
  retentionTimer?.unref();
  if (retentionDays !== null) retentionRun();

  // Quota counts of periods long over: nothing reads them.
  const quotaPruneTimer = setInterval(
    () =>
      void pruneQuotaUsage(database, Date.now()).catch((error: unknown) =>
        logger.warn({ err: String(error) }, "pruning old quota usage failed"),
      ),
    options.retentionIntervalMs ?? 3_600_000,
  );
  quotaPruneTimer.unref();

  let closed: Promise<void> | null = null;
  const close = () => {
    closed ??= (async () => {
      if (retentionTimer !== null) clearInterval(retentionTimer);
      clearInterval(quotaPruneTimer);
      snapshotHub.close();
      commands.close();
      services.guard.close();
      await services.ingest.close();
    })();
    return closed;
  };
  return {
    router: appRouter,
    services,
    createContext: createContextFactory(services),
    bootstrapped,
    runRetention,
    close,
    [Symbol.asyncDispose]: close,
  };
}

export type { Context };
