import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { SessionRecord } from "@edgesocks/api/wire";
import { createLogger, type Logger } from "@edgesocks/telemetry";
import { FleetAgent } from "./agent/fleet-agent";
import { resolveNodeToken } from "./agent/node-token";
import { loadCachedSnapshot } from "./agent/snapshot-cache";
import { type CliOptions, HELP, parseCli } from "./cli";
import { EXAMPLE_CONFIG } from "./config/example";
import { loadConfigFile, parseConfigText } from "./config/load";
import { cliOverrides } from "./config/overrides";
import { readEnv } from "./env";
import { RelayError } from "./errors";
import { createRelayMetrics, type RelayMetrics } from "./metrics";
import { releaseStartupMemory } from "./ops/startup-memory";
import { PolicyStore } from "./policy/policy-store";
import { dropPrivileges, planPrivileges } from "./privileges";
import { type Relay, startRelay } from "./relay";
import { retry } from "./retry";
import { interruptedRecord } from "./session/record";
import { ShardHub, workerCount } from "./shard/shard-hub";
import { spoolSink } from "./spool/checked-spool";
import { OpenJournal } from "./spool/open-journal";
import { Quarantine } from "./spool/quarantine";
import { Spool } from "./spool/spool";
import { createSystemdNotifier } from "./systemd-notify";
import { VERSION } from "./version";

/** Exit code for bad flags or configuration: nothing was started. */
const EXIT_USAGE = 2;
const USAGE_ERRORS = new Set([
  "RELAY_E_CLI",
  "RELAY_E_CONFIG",
  "RELAY_E_ACL_FILE",
  "RELAY_E_SNAPSHOT",
  "RELAY_E_TLS",
  "RELAY_E_PRIVILEGES",
  "RELAY_E_GEOIP",
]);

async function main(argv: string[]): Promise<void> {
  const options = parseCli(argv, readEnv());
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
    if (existsSync(path)) {
      throw new RelayError(
        "RELAY_E_CLI",
        `--generate-config: ${path} already exists; not overwriting it`,
      );
    }
    writeFileSync(path, EXAMPLE_CONFIG);
    process.stdout.write(`wrote ${path}\n`);
    return;
  }

  // Flags are set on the file's keys before validation: a bad --bind is refused like a bad file.
  const overrides = cliOverrides(options);
  const load = () =>
    options.config
      ? loadConfigFile(options.config, overrides)
      : { ...parseConfigText("", "flags", overrides), baseDir: process.cwd() };
  const loaded = load();
  const { config } = loaded;
  // Decided before anything is bound or written, so a bad --user exits 2 with nothing started.
  const privileges = planPrivileges(options);
  const logger = createLogger({
    level: config.logging.level,
    format: config.logging.format,
    base: { service: "edgesocks-relay", ...(options.name ? { node: options.name } : {}) },
  });
  for (const warning of loaded.warnings) logger.warn(warning);
  if (privileges.kind === "root") logger.warn(privileges.warning);
  const metrics = createRelayMetrics();
  const stateDir = options.stateDir;
  if (stateDir) mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  const quarantine = stateDir
    ? new Quarantine({
        path: join(stateDir, "quarantine.ndjson"),
        onDrop: (count, reason) => {
          metrics.spoolDropped.inc({ reason }, count);
          logger.error({ records: count, reason }, "quarantined session records dropped");
        },
      })
    : undefined;
  const spool =
    stateDir && quarantine
      ? new Spool<SessionRecord>({
          dir: join(stateDir, "spool"),
          // Standalone: nobody drains the spool, so it is a size-rotated log.
          overflow: options.mode === "fleet" ? "drop-newest" : "drop-oldest",
          parse: (value) => SessionRecord.parse(value),
          quarantine,
          onDrop: (count, reason) => {
            metrics.spoolDropped.inc({ reason }, count);
            logger.warn({ records: count, reason }, "session records dropped by the spool");
          },
          onCorrupt: (count) => {
            metrics.recordsQuarantined.inc({ reason: "unreadable" }, count);
            logger.error(
              { lines: count, quarantine: quarantine.path },
              "unreadable spool lines skipped; quarantined",
            );
          },
          onWritable: (writable, error) => {
            metrics.spoolWritable.set(writable ? 1 : 0);
            if (writable) logger.info("spool writable again; writing the records held in memory");
            else {
              metrics.spoolWriteErrors.inc();
              logger.error(
                { err: error?.message },
                "spool write failed; records wait in memory and relaying goes on",
              );
            }
          },
        })
      : undefined;
  if (spool) {
    metrics.spoolWritable.set(1);
    metrics.setBacklogSource(() => spool.backlogBytes());
  }
  const sink = spool && quarantine ? spoolSink({ spool, quarantine, metrics, logger }) : undefined;
  const journalPath = stateDir ? join(stateDir, "open-sessions.ndjson") : undefined;
  if (sink && journalPath) {
    // Sessions a killed previous run had open: recorded as interrupted, with the bytes known.
    const interrupted = OpenJournal.recover(journalPath);
    for (const record of interrupted) sink.append(record);
    if (interrupted.length > 0)
      logger.warn({ sessions: interrupted.length }, "recorded sessions the last run left open");
  }

  const node = { name: options.name ?? null, region: options.region ?? null };
  let policy: PolicyStore | undefined;
  if (options.mode === "fleet") {
    // Compiled for this node: the snapshot's auth.scopes name nodes and regions.
    policy = new PolicyStore(node);
    const cached = loadCachedSnapshot(stateDir!);
    if (cached.status === "ok") {
      policy.apply(cached.snapshot);
      metrics.policyVersion.set(cached.snapshot.version);
      logger.info({ version: cached.snapshot.version }, "serving with the cached snapshot");
    } else if (cached.status === "invalid") {
      logger.warn(
        { reason: cached.error },
        "cached snapshot ignored; waiting for the control plane",
      );
    }
  }

  const threads = workerCount(config.server.workers);
  const hub =
    threads > 1
      ? new ShardHub({ threads, config, baseDir: loaded.baseDir, node, logger })
      : undefined;
  const relay = await startRelay({
    config,
    baseDir: loaded.baseDir,
    logger,
    metrics,
    node,
    ...(policy ? { policy } : {}),
    ...(sink ? { spool: sink } : {}),
    ...(spool ? { spoolHealth: () => spool.health() } : {}),
    ...(hub ? { shared: hub.shared, peers: hub } : {}),
  });
  // The main thread serves already: a stop signal before the rest is up waits
  // for it, so sessions accepted meanwhile still drain and leave their records.
  // One listener per signal for the process's life: swapping listeners would
  // drop a signal that libuv caught but had not yet delivered to the old one.
  let earlySignal: NodeJS.Signals | undefined;
  let onStopSignal = (signal: NodeJS.Signals) => {
    earlySignal ??= signal;
  };
  process.on("SIGINT", () => onStopSignal("SIGINT"));
  process.on("SIGTERM", () => onStopSignal("SIGTERM"));
  // The other threads bind the same port before privileges are dropped.
  await hub?.start(relay);
  const journal = journalPath
    ? new OpenJournal({
        path: journalPath,
        sessions: () => relay.activeSessions(),
        describe: (session, endedAtMs) => interruptedRecord(session, node, endedAtMs),
      })
    : undefined;
  journal?.start();
  const socks = relay.socksAddress();
  const ops = relay.opsAddress();
  logger.info(
    {
      socks: `${socks.address}:${socks.port}`,
      ops: ops ? `${ops.address}:${ops.port}` : null,
      mode: options.mode,
      threads,
      version: VERSION,
    },
    "relay listening",
  );
  releaseStartupMemory();
  if (privileges.kind === "drop") {
    // After binding (a low port may need root), before the agent writes the node token.
    dropPrivileges(privileges.to, stateDir ? [stateDir] : []);
    logger.info({ uid: privileges.to.uid, gid: privileges.to.gid }, "dropped privileges");
  }
  const notifier = createSystemdNotifier({
    env: readEnv(),
    onError: (message) => logger.warn({ err: message }, "sd_notify failed"),
  });
  void notifier.ready(`serving SOCKS on ${socks.address}:${socks.port}`);
  notifier.startWatchdog();

  const agent =
    options.mode === "fleet" && policy && spool && quarantine
      ? startAgent(options, { relay, policy, spool, quarantine, metrics, logger })
      : undefined;

  process.on("SIGHUP", () => {
    try {
      const next = load();
      for (const warning of next.warnings) logger.warn(warning);
      if (options.mode === "standalone") relay.reload(next.config);
      else logger.info("SIGHUP: fleet mode takes its policy from the control plane");
    } catch (error) {
      logger.error(
        { err: (error as Error).message },
        "config reload rejected; the previous configuration stays",
      );
    }
  });
  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) {
      logger.warn({ signal }, "second signal: exiting now");
      process.exit(1);
    }
    stopping = true;
    notifier.close();
    void notifier.stopping();
    logger.info({ signal, sessions: relay.sessions.size }, "shutting down: draining sessions");
    // Order: stop accepting and drain sessions (their records reach the
    // spool), then stop the agent, then close the spool.
    (async () => {
      await relay.close();
      await journal?.close();
      await (await agent)?.close();
      spool?.close();
    })().then(
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
  onStopSignal = stop;
  if (earlySignal) stop(earlySignal);
}

/** Resolves the node token (exchanging an enrollment token, with retries), then starts the agent. */
async function startAgent(
  options: CliOptions,
  parts: {
    relay: Relay;
    policy: PolicyStore;
    spool: Spool<SessionRecord>;
    quarantine: Quarantine;
    metrics: RelayMetrics;
    logger: Logger;
  },
): Promise<FleetAgent> {
  const { relay, policy, spool, quarantine, metrics, logger } = parts;
  const publicAddress = options.publicAddress ?? null;
  const nodeToken = await retry(
    () =>
      resolveNodeToken({
        controlUrl: options.controlUrl!,
        token: options.nodeToken!,
        stateDir: options.stateDir!,
        softwareVersion: VERSION,
        publicAddress,
      }),
    {
      onError: (error, _attempt, delayMs) =>
        logger.warn(
          { err: (error as Error).message, retryInMs: Math.round(delayMs) },
          "node token exchange failed",
        ),
    },
  );
  const agent = new FleetAgent({
    controlUrl: options.controlUrl!,
    nodeToken,
    stateDir: options.stateDir!,
    store: policy,
    sessions: relay,
    quota: relay.quota,
    spool,
    quarantine,
    metrics,
    logger,
    softwareVersion: VERSION,
    publicAddress,
    authProblem: () => relay.authProblem(),
    counters: () => ({
      connectionsActive: relay.connectionsActive(),
      sessionsActive: relay.sessions.size,
      sessionsTotal: relay.totals.sessionsTotal,
      bytesUp: relay.totals.bytesUp,
      bytesDown: relay.totals.bytesDown,
      rejectedTotal: relay.totals.rejectedTotal,
      spoolBacklogBytes: spool.backlogBytes(),
      quarantinedRecords: quarantine.size,
    }),
  });
  agent.start();
  return agent;
}

main(process.argv.slice(2)).catch((error: unknown) => {
  if (error instanceof RelayError && USAGE_ERRORS.has(error.code)) {
    process.stderr.write(`edgesocks-relay: ${error.message}\n`);
    process.exit(EXIT_USAGE);
  }
  const code = (error as NodeJS.ErrnoException).code;
  if (code === "EADDRINUSE" || code === "EACCES" || code === "EADDRNOTAVAIL") {
    process.stderr.write(`edgesocks-relay: cannot listen: ${(error as Error).message}\n`);
    process.exit(EXIT_USAGE);
  }
  process.stderr.write(`edgesocks-relay: ${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
