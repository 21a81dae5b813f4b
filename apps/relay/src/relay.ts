import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import type { AddressInfo, Socket } from "node:net";
import { isAbsolute, resolve } from "node:path";
import type { TLSSocket, Server as TlsServer } from "node:tls";
import { splitHostPort } from "@edgesocks/socks/address";
import {
  aggregateMetrics,
  type Logger,
  type MetricObjectWithValues,
  type MetricValue,
} from "@edgesocks/telemetry";
import { AssignedAuth } from "./auth/assigned-auth";
import { createAuthBackends } from "./auth/auth-backends";
import { CredentialVerifier } from "./auth/credentials";
import { FailureBackoff } from "./auth/failure-backoff";
import type { RelayConfig } from "./config/schema";
import { openCountryDatabase } from "./geoip/open-country-database";
import { type ConnectionGate, LocalConnectionGate } from "./limits/connection-gate";
import { BoundedLabel, createRelayMetrics, type RelayMetrics } from "./metrics";
import { Resolver } from "./net/resolver";
import { RouteDialer } from "./net/route-dialer";
import { type OpsServer, startOpsServer } from "./ops/ops-server";
import { PolicyStore } from "./policy/policy-store";
import { StandalonePolicySource } from "./policy/standalone-source";
import type { QuotaLedger } from "./quota/quota-ledger";
import { type ProxiedClient, type ProxyRefusal, proxyHeaderReader } from "./server/proxy-header";
import { listen, type SocksListener } from "./server/socks-server";
import { renewTicketsOnResume, TICKET_KEYS_BYTES } from "./server/ticket-renewal";
import { certificateExpiries, loadTlsOptions, watchTlsFiles } from "./server/tls-context";
import { ClientSession } from "./session/client-session";
import { createProtection } from "./session/protection";
import { rejectedRecord, type SessionRecord } from "./session/record";
import {
  NodeRecords,
  type RecordSink,
  type RecordTotals,
  ThreadRecords,
} from "./session/record-sink";
import { SessionRegistry } from "./session/session-registry";
import type { SharedRelayState } from "./shard/shared-state";
import type { CheckedSpool } from "./spool/checked-spool";
import type { SpoolHealth } from "./spool/spool";

export interface RelayOptions {
  config: RelayConfig;
  /** Relative paths in the config (ACL file, certificates) are resolved from here. */
  baseDir: string;
  logger: Logger;
  node?: { name: string | null; region: string | null };
  /**
   * The policy, kept up to date by the caller (fleet mode). Unset: the
   * standalone source reads it from the config and ACL files.
   */
  policy?: PolicyStore;
  metrics?: RelayMetrics;
  /** Closed session records are appended here (the state dir's spool, checked against the wire schema). */
  spool?: CheckedSpool;
  /** The spool's state, for the ops server's health detail. */
  spoolHealth?: () => SpoolHealth;
  /** Receives every closed session record (tests). */
  onRecord?: (record: SessionRecord) => void;
  /**
   * A worker thread: where its records go instead of this relay's own sink (to
   * the main thread's, which counts, folds, logs and spools them).
   */
  records?: RecordSink;
  /** More of this host's ports the egress guard refuses (a worker thread: the main thread's ops port). */
  ownPorts?: readonly number[];
  /** Worker threads: the state this relay shares with the others (listeners use SO_REUSEPORT). */
  shared?: SharedRelayState;
  /** Main thread of several: the other threads, for metrics, session views and shutdown. */
  peers?: ShardPeers;
}

/** What the main thread needs from the other worker threads. */
export interface ShardPeers {
  /** Each other thread's metrics, as prom-client JSON. */
  metrics(): Promise<MetricObjectWithValues<MetricValue<string>>[][]>;
  /** The other threads' open sessions. */
  sessions(): Promise<SessionSummary[]>;
  /** Closes session `id` wherever it runs. */
  terminate(id: string, reason: string): void;
  /** Every other thread is listening. */
  ready(): boolean;
  /** Drains and stops the other threads. */
  close(graceMs: number): Promise<void>;
}

export type SessionSummary = ReturnType<typeof describeSession>;

/** Running totals for heartbeats. */
export type RelayTotals = RecordTotals;

export interface Relay {
  readonly metrics: RelayMetrics;
  readonly policy: PolicyStore;
  readonly sessions: SessionRegistry;
  readonly totals: RelayTotals;
  /** Traffic quota counts of every thread (heartbeats report them; fleet verdicts go in). */
  readonly quota: QuotaLedger;
  /** Client connections open now (in every worker thread). */
  connectionsActive(): number;
  /** Open sessions of every worker thread. */
  activeSessions(): Promise<SessionSummary[]>;
  /** Closes session `id` wherever it runs; true when it ran in this thread. */
  terminate(id: string, reason: string): boolean;
  /** Why this relay cannot run the auth method its policy assigns (logins refused); null: it can. */
  authProblem(): string | null;
  /** The node's record sink (main thread): worker threads' records are added here. */
  readonly records: RecordSink;
  /** The first listener: plain SOCKS, or TLS when TLS is the only one. */
  socksAddress(): AddressInfo;
  tlsAddress(): AddressInfo | undefined;
  opsAddress(): AddressInfo | undefined;
  /** SIGHUP: re-read the ACL (and, when given, apply a re-read main config's policy parts). */
  reload(config?: RelayConfig): boolean;
  /** Stops accepting, waits up to `graceMs` for sessions to end, then closes the rest. */
  close(graceMs?: number): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** Resolves a path from the config: next to the config file, else from the working directory. */
export function resolveConfigPath(baseDir: string, path: string): string {
  if (isAbsolute(path)) return path;
  const besideConfig = resolve(baseDir, path);
  if (existsSync(besideConfig) || !existsSync(path)) return besideConfig;
  return resolve(path);
}

/** Starts a standalone relay: policy from files, SOCKS listener(s), ops server. */
export async function startRelay(options: RelayOptions): Promise<Relay> {
  const { config, logger } = options;
  const metrics = options.metrics ?? createRelayMetrics();
  const sessions = new SessionRegistry();
  const aclPath = config.acl.config_file
    ? resolveConfigPath(options.baseDir, config.acl.config_file)
    : undefined;
  const policy = options.policy ?? new PolicyStore();
  const source = options.policy
    ? undefined
    : new StandalonePolicySource({ config, aclPath, store: policy, logger, metrics });
  // Before the first policy: one that names countries is refused without a database.
  const geoip = openCountryDatabase({
    path: config.geoip.database_path
      ? resolveConfigPath(options.baseDir, config.geoip.database_path)
      : undefined,
    watch: config.geoip.watch,
    logger,
    policy,
  });
  try {
    source?.start();
  } catch (error) {
    geoip.close();
    throw error;
  }

  const credentials = new CredentialVerifier();
  const assignedAuth = new AssignedAuth({
    config: config.auth,
    configured: createAuthBackends(config.auth),
    logger,
    retireAfterMs: config.server.handshake_timeout_ms * 2,
  });
  // Before the caches are cleared and sessions revoked: a new session must not see a policy
  // whose method its backends do not run.
  policy.onChange((next) => assignedAuth.follow(next.assigned), "auth method");
  if (policy.loaded) assignedAuth.follow(policy.current.assigned);
  policy.onChange((next, previous) => {
    const auth = assignedAuth.current;
    credentials.clear();
    auth.passwordPam?.clear();
    auth.addressPam?.clear();
    auth.groups?.clear();
    // A user disabled or deleted by the new policy loses their open sessions now.
    if (!previous) return;
    const revoked = sessions.closeWhere((session) => {
      if (!previous.users.has(session.user)) return false;
      const now = next.users.get(session.user);
      return now === undefined || !now.enabled;
    }, "revoked");
    if (revoked > 0) logger.info({ sessions: revoked }, "closed sessions of revoked users");
  }, "revocation of disabled users' sessions");
  // Node-wide (records of every worker thread, for heartbeats), in the main thread; a worker
  // thread forwards its records to the main thread's and keeps no totals of its own.
  const nodeRecords = options.records
    ? undefined
    : new NodeRecords({ logger, metrics, spool: options.spool, listener: options.onRecord });
  const totals = nodeRecords?.totals ?? {
    sessionsTotal: 0,
    rejectedTotal: 0,
    bytesUp: 0,
    bytesDown: 0,
  };
  const records = new ThreadRecords(
    nodeRecords ?? options.records!,
    config.ops.user_metrics_limit > 0 ? new BoundedLabel(config.ops.user_metrics_limit) : null,
  );
  const { closedBytes, closedPerUser } = records;
  metrics.setTrafficSource({
    totals: () => {
      let up = closedBytes.up;
      let down = closedBytes.down;
      for (const session of sessions.values()) {
        up += session.bytesUp;
        down += session.bytesDown;
      }
      return { up, down };
    },
    perUser: () => {
      if (config.ops.user_metrics_limit === 0) return [];
      const all = new Map([...closedPerUser].map(([u, b]) => [u, { ...b }]));
      for (const session of sessions.values())
        records.addUserBytes(all, session.user, session.bytesUp, session.bytesDown);
      return all;
    },
  });
  const node = options.node ?? { name: null, region: null };
  const onRejected = (socket: Socket, transport: "tcp" | "tls", reason: string) =>
    records.add(
      rejectedRecord({
        reason,
        clientAddress: socket.remoteAddress ?? "",
        clientPort: socket.remotePort ?? 0,
        transport,
        node,
      }),
    );
  const { shared, peers } = options;
  const shard = shared?.shard ?? 0;
  const protection = createProtection({ config, policy, metrics, logger, shared });
  const resolver = new Resolver({
    metrics,
    ttlMs: config.dns.cache_ttl_secs * 1000,
    maxEntries: config.dns.cache_max_entries,
    timeoutMs: config.dns.timeout_ms,
    hosts: config.dns.hosts,
  });
  const deps = {
    policy,
    credentials,
    /** Read once per session, at its start, with the policy. */
    get auth() {
      return assignedAuth.current;
    },
    backoff: new FailureBackoff(),
    resolver,
    routes: new RouteDialer({ resolver, egress: protection.session.egress, metrics }),
    metrics,
    logger,
    registry: sessions,
    timeouts: {
      handshakeMs: config.server.handshake_timeout_ms,
      idleMs: config.server.idle_timeout_secs * 1000,
      connectMs: config.server.connect_timeout_ms,
    },
    commands: {
      bind: {
        enabled: config.bind.enabled,
        timeoutMs: config.bind.timeout_ms,
        externalAddress: config.bind.external_address,
      },
      udp: {
        enabled: config.udp.enabled,
        publicAddress: config.udp.public_address,
        portRange: config.udp.port_range,
        idleTimeoutMs: config.udp.idle_timeout_secs * 1000,
        maxDatagramBytes: config.udp.max_datagram_bytes,
      },
    },
    node,
    records,
    ruleLabel: new BoundedLabel(500),
    countryOf: geoip.lookup,
    ...protection.session,
  };
  const gate: ConnectionGate = shared ? shared.connectionGate() : new LocalConnectionGate();
  const tlsConfig = config.server.tls?.enabled ? config.server.tls : undefined;
  const tlsFiles = tlsConfig
    ? {
        certificatePath: resolveConfigPath(options.baseDir, tlsConfig.certificate_path!),
        privateKeyPath: resolveConfigPath(options.baseDir, tlsConfig.private_key_path!),
        clientCaPath: tlsConfig.client_ca_path
          ? resolveConfigPath(options.baseDir, tlsConfig.client_ca_path)
          : undefined,
      }
    : undefined;
  // Several threads: one set of session-ticket keys and one session context (Node
  // derives its default from process.argv, which differs in a worker thread), so
  // a returning client resumes on any of them. One thread makes its own keys: the
  // ticket renewal needs them in hand.
  const sessionTicketKeys = shared?.ticketKeys() ?? randomBytes(TICKET_KEYS_BYTES);
  const ticketKeys = { ticketKeys: sessionTicketKeys, sessionIdContext: "edgesocks-relay" };
  const renewTickets = (server: TlsServer) => {
    if (!renewTicketsOnResume(server, sessionTicketKeys)) {
      logger.warn(
        "TLS: this Node.js has no ticket-key callback; a client that uses each session ticket once resumes only every other connection",
      );
    }
  };
  const tlsOptions =
    tlsConfig && tlsFiles ? { ...loadTlsOptions(tlsConfig, tlsFiles), ...ticketKeys } : undefined;
  if (tlsOptions && tlsFiles) metrics.setTlsCertificates(certificateExpiries(tlsOptions, tlsFiles));
  const certAsUser = tlsConfig?.tls_client_cert_as_user === true;
  const readProxyHeader =
    config.server.proxy_protocol === "off"
      ? undefined
      : proxyHeaderReader({
          versions: config.server.proxy_protocol,
          trusted: config.server.proxy_protocol_trusted,
          timeoutMs: config.server.handshake_timeout_ms,
        });
  const refuseProxied =
    (socket: Socket, transport: "tcp" | "tls") =>
    (reason: ProxyRefusal, peer: { address: string; port: number }) => {
      metrics.rejectedTotal.inc({ reason });
      const client = { clientAddress: peer.address, clientPort: peer.port };
      records.add(rejectedRecord({ reason, ...client, transport, node }));
      socket.on("error", ignoreError);
      socket.destroy();
    };
  const onConnection = (socket: Socket, transport: "tcp" | "tls", proxied?: ProxiedClient) => {
    if (!policy.loaded) {
      // Fleet mode before the first snapshot arrives: nothing to enforce yet.
      metrics.rejectedTotal.inc({ reason: "no_policy" });
      onRejected(socket, transport, "no_policy");
      socket.destroy();
      return;
    }
    let user: string | undefined;
    if (transport === "tls" && certAsUser) {
      const tlsSocket = socket as TLSSocket;
      const cn = tlsSocket.authorized ? tlsSocket.getPeerCertificate().subject?.CN : undefined;
      user = Array.isArray(cn) ? cn[0] : cn;
    }
    // TLS: the listener read the header before the handshake (early bytes were TLS's).
    if (proxied !== undefined) {
      new ClientSession(socket, transport, deps, user, { ...proxied, early: null });
      return;
    }
    if (!readProxyHeader || transport === "tls") {
      new ClientSession(socket, transport, deps, user);
      return;
    }
    readProxyHeader(
      socket,
      (client) => new ClientSession(socket, transport, deps, user, client),
      refuseProxied(socket, transport),
    );
  };
  const common = {
    metrics,
    maxConnections: config.server.max_connections,
    handshakeTimeoutMs: config.server.handshake_timeout_ms,
    gate,
    reusePort: shared !== undefined,
    onConnection,
    onRejected,
  };
  const listeners: SocksListener[] = [];
  let tlsListener: SocksListener | undefined;
  try {
    if (!tlsOptions || tlsConfig?.bind_port !== undefined) {
      listeners.push(
        await listen({
          ...common,
          host: config.server.bind_address,
          port: config.server.bind_port,
        }),
      );
    }
    if (tlsOptions) {
      tlsListener = await listen({
        ...common,
        host: config.server.bind_address,
        port: tlsConfig?.bind_port ?? config.server.bind_port,
        tls: tlsOptions,
        proxyHeader: readProxyHeader
          ? (raw, onClient) => readProxyHeader(raw, onClient, refuseProxied(raw, "tls"))
          : undefined,
      });
      listeners.push(tlsListener);
      renewTickets(tlsListener.tls!);
    }
  } catch (error) {
    await Promise.all(listeners.map((l) => l.stop()));
    source?.close();
    protection.close();
    geoip.close();
    throw error;
  }
  const listener = listeners[0]!;
  const tlsWatch =
    tlsConfig && tlsFiles && tlsListener
      ? watchTlsFiles(tlsFiles, () => {
          try {
            const reloaded = { ...loadTlsOptions(tlsConfig, tlsFiles), ...ticketKeys };
            tlsListener!.tls!.setSecureContext(reloaded);
            renewTickets(tlsListener!.tls!);
            metrics.setTlsCertificates(certificateExpiries(reloaded, tlsFiles));
            logger.info("TLS certificate reloaded");
          } catch (error) {
            logger.error(
              { err: (error as Error).message },
              "TLS reload rejected; the previous certificate stays",
            );
          }
        })
      : undefined;
  let ops: OpsServer | undefined;
  if (config.ops.bind) {
    const split = splitHostPort(config.ops.bind);
    if (!split) throw new Error(`ops.bind: expected HOST:PORT, got ${config.ops.bind}`);
    ops = await startOpsServer({
      host: split.host,
      port: split.port,
      registry: peers
        ? async () =>
            aggregateMetrics(await metrics.registry.getMetricsAsJSON(), await peers.metrics())
        : async () => metrics.registry,
      ready: () =>
        policy.loaded && listeners.every((l) => l.server.listening) && (peers?.ready() ?? true),
      routes: { "/sessions/active": () => activeSessions() },
      ...(options.spoolHealth
        ? {
            detail: () => {
              const spool = options.spoolHealth!();
              return { degraded: !spool.writable, spool };
            },
          }
        : {}),
    });
  }
  protection.start({
    resolver: deps.resolver,
    ports: [
      ...listeners.map((l) => l.address().port),
      ...(ops ? [ops.address().port] : []),
      ...(options.ownPorts ?? []),
    ],
  });

  const activeSessions = async (): Promise<SessionSummary[]> => {
    const local = [...sessions.values()].map((session) => describeSession(session, shard));
    return peers ? [...local, ...(await peers.sessions())] : local;
  };
  let closing: Promise<void> | undefined;
  const close = (graceMs = config.server.shutdown_grace_ms) => {
    closing ??= (async () => {
      source?.close();
      tlsWatch?.close();
      geoip.close();
      const stopped = Promise.all(listeners.map((l) => l.stop()));
      const peersClosed = peers?.close(graceMs);
      const deadline = Date.now() + graceMs;
      while (sessions.size > 0 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 50));
      }
      sessions.closeWhere(() => true, "shutdown");
      for (const l of listeners) l.destroyAll();
      protection.close();
      await stopped;
      await peersClosed;
      // After the other threads: their last records are folded with this thread's.
      nodeRecords?.close();
      await ops?.close();
    })();
    return closing;
  };
  return {
    metrics,
    policy,
    sessions,
    quota: protection.quota.ledger,
    socksAddress: () => listener.address(),
    tlsAddress: () => tlsListener?.address(),
    opsAddress: () => ops?.address(),
    totals,
    connectionsActive: () => gate.active,
    authProblem: () => assignedAuth.problem,
    activeSessions,
    terminate: (id, reason) => {
      const session = sessions.get(id);
      // Only a session this thread does not run is asked of the other threads.
      if (session === undefined) {
        peers?.terminate(id, reason);
        return false;
      }
      session.close(reason);
      return true;
    },
    records: records.next,
    reload: (next) => source?.reload(next) ?? false,
    close,
    [Symbol.asyncDispose]: () => close(0),
  };
}

function describeSession(session: ClientSession, shard: number) {
  return {
    id: session.id,
    /** The worker thread serving it (0: the main thread). */
    shard,
    user: session.user,
    clientAddress: session.clientAddress,
    clientPort: session.clientPort,
    protocol: session.protocol,
    transport: session.transport,
    command: session.command,
    state: session.state,
    destinationHost: session.destinationHost,
    destinationAddress: session.destinationAddress,
    destinationPort: session.destinationPort,
    startedAt: new Date(session.startedAt).toISOString(),
    bytesUp: session.bytesUp,
    bytesDown: session.bytesDown,
    packetsUp: session.packetsUp,
    packetsDown: session.packetsDown,
    decision: session.decision?.action ?? null,
    ruleId: session.decision?.ruleId ?? null,
  };
}

function ignoreError(): void {}
