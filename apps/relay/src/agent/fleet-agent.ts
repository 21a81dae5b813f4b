import { randomUUID } from "node:crypto";
import type { AppRouter } from "@edgesocks/api";
import {
  type ConfigEvent,
  type HeartbeatInput,
  HeartbeatOutput,
  MAX_QUOTA_REPORTS,
  NodeCommand,
  type SessionRecord,
} from "@edgesocks/api/wire";
import { countedFromMs, validateSnapshot } from "@edgesocks/policy";
import type { Logger } from "@edgesocks/telemetry";
import { createTRPCClient, createWSClient, type TRPCClient, wsLink } from "@trpc/client";
import type { RelayMetrics } from "../metrics";
import { describeFailures, type ListenerFailure, type PolicyStore } from "../policy/policy-store";
import { QuotaLedger } from "../quota/quota-ledger";
import { ledgerKeys, quotaSubjects } from "../quota/quota-rules";
import type { Relay } from "../relay";
import { backoffDelayMs } from "../retry";
import type { Quarantine } from "../spool/quarantine";
import type { Spool } from "../spool/spool";
import { wsUrl } from "./node-token";
import { SessionShipper } from "./session-shipper";
import { saveCachedSnapshot } from "./snapshot-cache";

export interface FleetAgentOptions {
  controlUrl: string;
  nodeToken: string;
  stateDir: string;
  store: PolicyStore;
  /** Open sessions (of every worker thread) and terminating them. */
  sessions: Pick<Relay, "activeSessions" | "terminate">;
  /** The relay's quota counts: reported with heartbeats; the fleet's counts come back into it. */
  quota?: QuotaLedger;
  spool: Spool<SessionRecord>;
  /** Records ingest refuses as invalid go here. */
  quarantine: Quarantine;
  metrics: RelayMetrics;
  logger: Logger;
  softwareVersion: string;
  publicAddress: string | null;
  /**
   * Why the relay cannot run the auth method its policy assigns (null: it can), reported with
   * every ack and heartbeat so the node shows as ERROR. @default never a problem
   */
  authProblem?: () => string | null;
  /** Live counters for heartbeats. */
  counters: () => HeartbeatInput["counters"];
  /** @default 5000 (ms) */
  heartbeatIntervalMs?: number;
  /** Shipper batching age. @default 1000 (ms) */
  batchAgeMs?: number;
  /** Records per shipped batch at most. @default 1000 */
  batchSize?: number;
}

type Unsubscribable = { unsubscribe(): void };

/**
 * Fleet mode: keeps the relay's policy in step with the control plane and
 * delivers its session records, over one WebSocket. Nothing here is on the
 * SOCKS hot path; when the control plane is away the relay keeps serving
 * with the snapshot it holds and spools its records.
 */
export class FleetAgent {
  readonly #options: FleetAgentOptions;
  readonly #wsClient: ReturnType<typeof createWSClient>;
  readonly #client: TRPCClient<AppRouter>;
  readonly #shipper: SessionShipper;
  #subscriptions: Unsubscribable[] = [];
  #heartbeatTimer: NodeJS.Timeout | undefined;
  #connected = false;
  #closing = false;
  /** This relay process, for the control plane's quota counts (a restart counts anew). */
  readonly #boot = randomUUID();
  readonly #quota: QuotaLedger;

  constructor(options: FleetAgentOptions) {
    this.#options = options;
    this.#quota = options.quota ?? QuotaLedger.create(64);
    const { logger } = options;
    this.#wsClient = createWSClient({
      url: wsUrl(options.controlUrl),
      connectionParams: () => ({ token: options.nodeToken }),
      // tRPC's default back-off has no jitter; a fleet must not reconnect in step.
      retryDelayMs: (attempt) => backoffDelayMs(attempt, { baseMs: 500, maxMs: 30_000 }),
      keepAlive: { enabled: true, intervalMs: 5_000, pongTimeoutMs: 3_000 },
      onOpen: () => {
        this.#connected = true;
        logger.info({ controlUrl: options.controlUrl }, "connected to the control plane");
      },
      onClose: (cause) => {
        if (this.#connected) {
          logger.warn(
            { code: cause?.code },
            "control plane connection lost; serving with the cached policy",
          );
        }
        this.#connected = false;
      },
    });
    this.#client = createTRPCClient<AppRouter>({ links: [wsLink({ client: this.#wsClient })] });
    this.#shipper = new SessionShipper({
      spool: options.spool,
      quarantine: options.quarantine,
      send: (records) => this.#client.sessions.ingest.mutate({ records }),
      logger,
      metrics: options.metrics,
      ...(options.batchAgeMs !== undefined ? { batchAgeMs: options.batchAgeMs } : {}),
      ...(options.batchSize !== undefined ? { batchSize: options.batchSize } : {}),
    });
  }

  get shipper(): SessionShipper {
    return this.#shipper;
  }

  start(): void {
    this.#watchConfig();
    this.#watchCommands();
    this.#shipper.start();
    this.#scheduleHeartbeat();
  }

  async close(): Promise<void> {
    this.#closing = true;
    clearTimeout(this.#heartbeatTimer);
    for (const s of this.#subscriptions) s.unsubscribe();
    await this.#shipper.close();
    await this.#wsClient.close();
  }

  /**
   * Keeps one subscription open for the agent's life: whatever ends it (an error such as a
   * refused or rate-limited token, or the server completing it) opens it again after a capped,
   * jittered back-off, so a relay never silently stays on an old policy or misses commands.
   */
  #keepSubscribed(
    name: string,
    open: (handlers: {
      /** The subscription works (started, or an event arrived): the back-off starts over. */
      onData: () => void;
      onError: (error: Error) => void;
      onComplete: () => void;
    }) => Unsubscribable,
  ): void {
    const { logger } = this.#options;
    let attempt = 0;
    let current: Unsubscribable | null = null;
    let timer: NodeJS.Timeout | undefined;
    const ended = (error: Error | null) => {
      current?.unsubscribe();
      current = null;
      if (this.#closing) return;
      const delayMs = backoffDelayMs(attempt++, { baseMs: 500, maxMs: 30_000 });
      logger.warn(
        { err: error?.message ?? "ended", delayMs: Math.round(delayMs) },
        `${name} stopped; subscribing again`,
      );
      timer = setTimeout(start, delayMs);
      timer.unref();
    };
    const start = () => {
      if (this.#closing) return;
      current = open({
        onData: () => {
          attempt = 0;
        },
        onError: (error) => ended(error),
        onComplete: () => ended(null),
      });
    };
    start();
    this.#subscriptions.push({
      unsubscribe: () => {
        clearTimeout(timer);
        current?.unsubscribe();
      },
    });
  }

  #watchConfig(): void {
    const { store, logger } = this.#options;
    this.#keepSubscribed("config.watch", (handlers) => {
      // Each (re)subscription says what the relay holds now.
      const held = store.loaded ? store.current.snapshot : undefined;
      return this.#client.config.watch.subscribe(
        { version: held?.version ?? null, epoch: held?.epoch ?? null },
        {
          onStarted: handlers.onData,
          onData: (event) => {
            handlers.onData();
            // tracked() events arrive as { id, data }.
            const data =
              (event as { data?: ConfigEvent }).data ?? (event as unknown as ConfigEvent);
            this.#onSnapshot(data).catch((error: unknown) =>
              logger.error({ err: error }, "handling a snapshot failed"),
            );
          },
          onError: handlers.onError,
          onComplete: handlers.onComplete,
        },
      );
    });
  }

  async #onSnapshot(event: ConfigEvent): Promise<void> {
    const { store, logger, metrics, stateDir } = this.#options;
    const reject = async (reason: string) => {
      metrics.policyReloads.inc({ result: "rejected" });
      logger.error(
        { version: event.version, reason },
        "snapshot rejected; the previous policy stays in force",
      );
      await this.#client.config.ack.mutate({
        status: "rejected",
        version: event.version,
        epoch: event.epoch,
        reason,
      });
    };
    const result = validateSnapshot(event.snapshot);
    if (!result.ok) return reject(result.error);
    const snapshot = result.snapshot;
    if (snapshot.version !== event.version || snapshot.epoch !== event.epoch) {
      return reject(
        `event says ${event.epoch}/${event.version}, snapshot is ${snapshot.epoch}/${snapshot.version}`,
      );
    }
    const current = store.loaded ? store.current.snapshot : undefined;
    const same =
      current && current.epoch === snapshot.epoch && current.version === snapshot.version;
    if (!same) {
      if (current && current.epoch === snapshot.epoch && current.version > snapshot.version) {
        return reject(`version ${snapshot.version} is older than the applied ${current.version}`);
      }
      let failures: ListenerFailure[];
      try {
        ({ failures } = store.apply(snapshot));
      } catch (error) {
        return reject((error as Error).message);
      }
      // From here the version is in force: whatever fails next is reported as
      // what it is, and the ack says applied.
      metrics.policyVersion.set(snapshot.version);
      try {
        saveCachedSnapshot(stateDir, snapshot);
      } catch (error) {
        failures.push({ listener: "snapshot cache write", error: error as Error });
      }
      const fields = { version: snapshot.version, epoch: snapshot.epoch };
      if (failures.length > 0) {
        metrics.policyReloads.inc({ result: "applied_with_errors" });
        logger.error(
          { ...fields, failures: describeFailures(failures) },
          "snapshot applied and in force, but carrying it out failed in part",
        );
      } else {
        metrics.policyReloads.inc({ result: "applied" });
        logger.info(fields, "snapshot applied");
      }
    }
    await this.#client.config.ack.mutate({
      status: "applied",
      version: snapshot.version,
      epoch: snapshot.epoch,
      authProblem: this.#authProblem(),
    });
  }

  /** One line the wire takes: a long keytab path or a library's message cannot fail the ack. */
  #authProblem(): string | null {
    const problem = this.#options.authProblem?.() ?? null;
    if (problem === null) return null;
    // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are the point
    const line = problem.replace(/[\u0000-\u001f\u007f-\u009f]/g, " ");
    const cut = line.slice(0, 1000);
    // Not half a surrogate pair: the wire refuses a lone surrogate.
    return /[\uD800-\uDBFF]$/.test(cut) ? cut.slice(0, -1) : cut;
  }

  #watchCommands(): void {
    const { sessions, logger } = this.#options;
    this.#keepSubscribed("nodes.commands", (handlers) =>
      this.#client.nodes.commands.subscribe(
        {},
        {
          onStarted: handlers.onData,
          onData: (command) => {
            handlers.onData();
            if (command.type === "quota_exhausted" || command.type === "quota_reset") {
              this.#onQuotaCommand(command);
            } else if (command.type === "terminate") {
              // Another worker thread may run it: the relay passes the command on.
              sessions.terminate(command.sessionId, `terminated by ${command.by}`);
              logger.info(
                { session: command.sessionId, by: command.by },
                "session terminate command from the control plane",
              );
            }
          },
          onError: handlers.onError,
          onComplete: handlers.onComplete,
        },
      ),
    );
  }

  #onQuotaCommand(input: unknown): void {
    const { logger } = this.#options;
    const parsed = NodeCommand.safeParse(input);
    if (!parsed.success) {
      logger.warn({ err: parsed.error.message }, "malformed quota command ignored");
      return;
    }
    const command = parsed.data;
    if (command.type === "quota_exhausted") {
      this.#quota.markFleetSpent(command.quotas);
      logger.info({ quotas: command.quotas.map((q) => q.subject) }, "fleet spent quotas");
    } else if (command.type === "quota_reset") {
      const { store } = this.#options;
      const rule = store.loaded
        ? quotaSubjects(store.current.snapshot).get(command.subject)
        : undefined;
      for (const key of rule ? ledgerKeys(rule) : []) this.#quota.reset(key);
      this.#quota.reset(command.subject);
      logger.info({ subject: command.subject, by: command.by }, "quota reset");
    }
  }

  /** What this process spent of every quota in the policy (its current period's count). */
  #quotaUsage(): { subject: string; periodStartMs: number; bytes: number }[] {
    const { store } = this.#options;
    const quota = this.#quota;
    if (!store.loaded) return [];
    const usage = [];
    const nowMs = Date.now();
    for (const [subject, rule] of quotaSubjects(store.current.snapshot)) {
      // A rolling window: each of its buckets still in the window, as its own period.
      const from = countedFromMs(rule.period, rule.timeZone, nowMs);
      for (const key of ledgerKeys(rule)) {
        const counted = quota.usage(key);
        if (counted !== null && counted.periodStartMs >= from) usage.push({ subject, ...counted });
      }
    }
    return usage.slice(0, MAX_QUOTA_REPORTS);
  }

  #scheduleHeartbeat(): void {
    const interval = this.#options.heartbeatIntervalMs ?? 5_000;
    // ±20% so a fleet started together does not beat together.
    const delay = interval * (0.8 + Math.random() * 0.4);
    this.#heartbeatTimer = setTimeout(() => {
      this.#heartbeat().finally(() => this.#scheduleHeartbeat());
    }, delay);
    this.#heartbeatTimer.unref();
  }

  async #heartbeat(): Promise<void> {
    if (!this.#connected) return;
    const { sessions, store, softwareVersion, publicAddress, counters, logger } = this.#options;
    const active = (await sessions.activeSessions())
      .filter((s) => s.state === "relaying")
      .sort((a, b) => b.bytesUp + b.bytesDown - (a.bytesUp + a.bytesDown));
    const limit = 2000;
    const snapshot = store.loaded ? store.current.snapshot : undefined;
    try {
      const answer = await this.#client.nodes.heartbeat.mutate({
        softwareVersion,
        publicAddress,
        appliedVersion: snapshot?.version ?? null,
        epoch: snapshot?.epoch ?? null,
        authProblem: this.#authProblem(),
        counters: counters(),
        activeSessions: active.slice(0, limit).map((s) => ({
          id: s.id,
          user: s.user,
          clientAddress: s.clientAddress,
          clientPort: s.clientPort,
          command: s.command,
          transport: s.transport,
          destinationHost: s.destinationHost,
          destinationAddress: s.destinationAddress,
          destinationPort: s.destinationPort,
          startedAt: s.startedAt,
          bytesUp: s.bytesUp,
          bytesDown: s.bytesDown,
        })),
        activeSessionsTruncated: active.length > limit,
        quota: { boot: this.#boot, usage: this.#quotaUsage() },
      });
      // Parsed here: the fleet's counts decide who this relay refuses.
      const parsed = HeartbeatOutput.safeParse(answer);
      if (!parsed.success) {
        logger.warn({ err: parsed.error.message }, "heartbeat answer malformed; quota counts kept");
      } else if (parsed.data.quotas) this.#quota.setFleetVerdicts(parsed.data.quotas);
    } catch (error) {
      logger.debug({ err: (error as Error).message }, "heartbeat failed");
    }
  }
}
