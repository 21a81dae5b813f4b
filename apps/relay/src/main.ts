import { existsSync, writeFileSync } from "node:fs";
import { createLogger } from "@edgesocks/telemetry";
import { HELP, parseCli } from "./cli";
import { EXAMPLE_CONFIG } from "./config/example";
import { type LoadedConfig, loadConfigFile } from "./config/load";
import { RelayError } from "./errors";
import { startRelay } from "./relay";
import { VERSION } from "./version";

/** Exit code for bad flags or configuration: nothing was started. */
const EXIT_USAGE = 2;

async function main(argv: string[]): Promise<void> {
  const options = parseCli(argv);
  if (options.mode === "help") {
    process.stdout.write(`${HELP}\n`);
    return;
  }
  if (options.mode === "version") {
    process.stdout.write(`edgesocks-relay ${VERSION}\n`);
    return;
  }
  if (options.mode === "generate") {
    const path = options.generateConfig!;
    if (existsSync(path))
      throw new RelayError(
        "RELAY_E_CLI",
        `--generate-config: ${path} already exists; not overwriting it`,
      );
    writeFileSync(path, EXAMPLE_CONFIG);
    process.stdout.write(`wrote ${path}\n`);
    return;
  }
  if (options.mode === "fleet") {
    throw new RelayError("RELAY_E_CLI", "--control-url: fleet mode is not available in this build");
  }

  const load = (): LoadedConfig => {
    const loaded = loadConfigFile(options.config!);
    const { server, ops, logging } = loaded.config;
    if (options.bind !== undefined) server.bind_address = options.bind;
    if (options.port !== undefined) server.bind_port = options.port;
    if (options.opsBind !== undefined) ops.bind = options.opsBind;
    if (options.logLevel !== undefined) logging.level = options.logLevel;
    if (options.logFormat !== undefined) logging.format = options.logFormat;
    return loaded;
  };
  const loaded = load();
  const { config } = loaded;
  const logger = createLogger({
    level: config.logging.level,
    format: config.logging.format,
    base: { service: "edgesocks-relay" },
  });
  for (const warning of loaded.warnings) logger.warn(warning);

  const relay = await startRelay({ config, baseDir: loaded.baseDir, logger });
  const socks = relay.socksAddress();
  logger.info(
    { socks: `${socks.address}:${socks.port}`, ops: config.ops.bind ?? null, version: VERSION },
    "relay listening",
  );

  process.on("SIGHUP", () => {
    try {
      const next = load();
      for (const warning of next.warnings) logger.warn(warning);
      relay.reload(next.config);
    } catch (error) {
      logger.error(
        { err: (error as Error).message },
        "config reload rejected; the previous configuration stays",
      );
    }
  });
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) {
      logger.warn({ signal }, "second signal: exiting now");
      process.exit(1);
    }
    stopping = true;
    logger.info({ signal, sessions: relay.sessions.size }, "shutting down: draining sessions");
    relay.close().then(
      () => {
        logger.info("stopped");
        logger.flush();
        process.exit(0);
      },
      (error: unknown) => {
        logger.error({ err: error }, "shutdown failed");
        process.exit(1);
      },
    );
  };
  process.on("SIGINT", () => stop("SIGINT"));
  process.on("SIGTERM", () => stop("SIGTERM"));
}

main(process.argv.slice(2)).catch((error: unknown) => {
  if (
    error instanceof RelayError &&
    (error.code === "RELAY_E_CLI" ||
      error.code === "RELAY_E_CONFIG" ||
      error.code === "RELAY_E_ACL_FILE" ||
      error.code === "RELAY_E_SNAPSHOT")
  ) {
    process.stderr.write(`edgesocks-relay: ${error.message}\n`);
    process.exit(EXIT_USAGE);
  }
  if (
    (error as NodeJS.ErrnoException).code === "EADDRINUSE" ||
    (error as NodeJS.ErrnoException).code === "EACCES"
  ) {
    process.stderr.write(`edgesocks-relay: cannot listen: ${(error as Error).message}\n`);
    process.exit(EXIT_USAGE);
  }
  process.stderr.write(`edgesocks-relay: ${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
