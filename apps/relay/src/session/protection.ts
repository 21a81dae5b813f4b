import type { Logger } from "@edgesocks/telemetry";
import type { RelayConfig } from "../config/schema";
import { ConnectionLimits, type SessionLimits } from "../limits/connection-limits";
import { PendingHandshakes } from "../limits/pending-handshakes";
import type { RelayMetrics } from "../metrics";
import { EgressGuard } from "../net/egress-guard";
import type { Resolver } from "../net/resolver";
import { UpstreamPool } from "../net/upstream-pool";
import type { PolicyStore } from "../policy/policy-store";
import { QosManager } from "../qos/qos-manager";
import { QuotaGuard } from "../quota/quota-guard";
import { QuotaLedger } from "../quota/quota-ledger";
import type { SharedRelayState } from "../shard/shared-state";

/** What sessions use to stay within limits; every part optional (absent: not enforced). */
export interface SessionProtection {
  /** Bandwidth shaping. */
  qos?: QosManager | undefined;
  /** Connection caps: global, per user, per client address. */
  limits?: SessionLimits | undefined;
  /** Bounded pending handshakes with an absolute deadline. */
  handshakes?: PendingHandshakes | undefined;
  /** Destinations refused whatever the ACL says. */
  egress?: EgressGuard | undefined;
  /** Pre-established upstream connections. */
  pool?: UpstreamPool | undefined;
  /** Traffic quotas, counted with the relay's other threads. */
  quota?: QuotaGuard | undefined;
}

export interface ProtectionOptions {
  config: RelayConfig;
  policy: PolicyStore;
  metrics: RelayMetrics;
  logger: Logger;
  /** Worker threads: limits and QoS shares held across all of them. */
  shared?: SharedRelayState | undefined;
}

export interface Protection {
  readonly session: SessionProtection;
  /** Traffic quotas (the ledger is what heartbeats report). */
  readonly quota: QuotaGuard;
  /** Once the listeners are bound: their ports join the egress guard, the pool starts filling. */
  start(options: { resolver: Pick<Resolver, "resolve">; ports: readonly number[] }): void;
  close(): void;
}

/** Builds the relay's QoS and abuse protection from its config. */
export function createProtection(options: ProtectionOptions): Protection {
  const { config, policy, metrics, logger, shared } = options;
  const quota = new QuotaGuard({ ledger: shared?.quota ?? QuotaLedger.create(), metrics });
  const egress = new EgressGuard({
    enabled: config.egress.guard_enabled,
    blockedNetworks: config.egress.blocked_networks,
    blockOwnPorts: config.egress.block_own_ports,
    blockedLocalPorts: config.egress.blocked_local_ports,
  });
  const poolConfig = config.server.pool;
  const pool = poolConfig.enabled
    ? new UpstreamPool({
        destinations: poolConfig.destinations,
        perDestination: poolConfig.connections_per_destination,
        maxTotal: poolConfig.max_connections,
        idleTimeoutMs: poolConfig.idle_timeout_secs * 1000,
        connectTimeoutMs: config.server.connect_timeout_ms,
        guard: egress,
        metrics,
        logger,
      })
    : undefined;
  const session: SessionProtection = {
    qos: new QosManager({ policy, metrics, share: shared?.qosShare() }),
    limits: shared ? shared.sessionLimits() : new ConnectionLimits(),
    handshakes: new PendingHandshakes({
      maxPending: config.server.max_pending_handshakes,
      maxPendingPerClient: config.server.max_pending_handshakes_per_client,
      timeoutMs: config.server.handshake_timeout_ms,
      onSize: (pending) => metrics.handshakesPending.set(pending),
    }),
    egress,
    pool,
    quota,
  };
  return {
    session,
    quota,
    start({ resolver, ports }) {
      egress.addOwnPorts(ports);
      pool?.start(resolver);
    },
    close() {
      session.qos?.close();
      quota.close();
      session.handshakes?.close();
      pool?.close();
    },
  };
}
