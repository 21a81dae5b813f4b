import { migrateDatabase, openDatabase } from "@edgesocks/db";
import { createLogger } from "@edgesocks/telemetry";
import { startControlApp } from "./app";
import { HELP, parseCli } from "./cli";
import { readEnv } from "./env";
import { ControlError } from "./errors";
import { parsePacRegions } from "./pac-regions";
import { VERSION } from "./version";

/** Exit code for bad flags or environment: nothing was started. */
const EXIT_USAGE = 2;

async function main(argv: string[]): Promise<void> {
  const cli = parseCli(argv);
  if (cli.command === "help") {
    process.stdout.write(`${HELP}\n`);
    return;
  }
  if (cli.command === "version") {
    process.stdout.write(`edgesocks-control ${VERSION}\n`);
    return;
  }
  const env = readEnv(process.env);
  const databaseUrl = cli.databaseUrl ?? env.DATABASE_URL;
  const logger = createLogger({
    level: env.EDGESOCKS_LOG_LEVEL,
    format: env.EDGESOCKS_LOG_FORMAT,
    base: { service: "edgesocks-control" },
  });

  if (cli.command === "migrate") {
    await using database = await openDatabase({
      url: databaseUrl,
      authToken: env.DATABASE_AUTH_TOKEN,
    });
    await migrateDatabase(database);
    logger.info({ database: databaseUrl }, "migrations applied");
    return;
  }

  const app = await startControlApp({
    logger,
    databaseUrl,
    databaseAuthToken: env.DATABASE_AUTH_TOKEN,
    migrateOnStart: env.EDGESOCKS_MIGRATE_ON_START,
    host: cli.host ?? env.HOST,
    port: cli.port ?? env.PORT,
    sessionRetentionDays: env.SESSION_RETENTION_DAYS ?? null,
    adminTokenFile: env.EDGESOCKS_ADMIN_TOKEN_FILE,
    presetAdminToken: env.EDGESOCKS_ADMIN_TOKEN,
    corsOrigins: env.EDGESOCKS_CORS_ORIGINS.split(",")
      .map((origin) => origin.trim())
      .filter((origin) => origin !== ""),
    allowedHosts: env.EDGESOCKS_ALLOWED_HOSTS,
    trustedProxies: env.EDGESOCKS_TRUSTED_PROXIES,
    adminDistDir: env.EDGESOCKS_ADMIN_DIST,
    pacRegions: parsePacRegions(env.EDGESOCKS_PAC_REGIONS),
  });
  logger.info(
    { url: app.server.url, ws: app.server.wsUrl, database: databaseUrl, version: VERSION },
    "control plane listening",
  );

  // Shutdown order (app.close()): /ready turns 503, the HTTP/WebSocket server stops and tells
  // relays to reconnect, the control plane stops its timers and pending ingest, and the
  // database closes after its write queue drains.
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) {
      logger.warn({ signal }, "second signal: exiting now");
      process.exit(1);
    }
    stopping = true;
    logger.info({ signal }, "shutting down");
    app.close().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error({ err: String(error) }, "shutdown failed");
        process.exit(1);
      },
    );
  };
  process.on("SIGINT", () => stop("SIGINT"));
  process.on("SIGTERM", () => stop("SIGTERM"));
}

main(process.argv.slice(2)).catch((error: unknown) => {
  if (error instanceof ControlError) {
    process.stderr.write(`edgesocks-control: ${error.message}\n`);
    process.exit(EXIT_USAGE);
  }
  process.stderr.write(
    `edgesocks-control: ${error instanceof Error ? error.message : String(error)}\n`,
  );
  process.exit(1);
});
