import {
  Counter,
  createRegistry,
  durationBucketsSeconds,
  Gauge,
  Histogram,
  latencyBucketsSeconds,
  type Registry,
  registerBuildInfo,
} from "@edgesocks/telemetry";
import { RELAY_BUILD } from "./version";

export type RelayMetrics = ReturnType<typeof createRelayMetrics>;

/** Byte totals computed at scrape time, so open sessions count before they end. */
export interface TrafficSource {
  totals(): { up: number; down: number };
  perUser(): Iterable<[string, { up: number; down: number }]>;
}

/** Every series the relay exports; label values are bounded sets. */
export function createRelayMetrics(registry: Registry = createRegistry()) {
  const r = [registry];
  let source: TrafficSource = { totals: () => ({ up: 0, down: 0 }), perUser: () => [] };
  let backlog: () => number = () => 0;
  const traffic: TrafficSource = {
    totals: () => source.totals(),
    perUser: () => source.perUser(),
  };
  /** notAfter (ms) of each configured certificate, by `certificate` and `path`. */
  const certificates = new Map<string, { certificate: string; path: string; notAfterMs: number }>();
  return {
    registry,
    buildInfo: registerBuildInfo(registry, "relay", RELAY_BUILD),
    tlsCertificateExpiry: new Gauge({
      name: "edgesocks_relay_tls_certificate_expiry_seconds",
      help: "Seconds until the notAfter of each configured TLS certificate (server: the leaf; client_ca: the soonest CA); negative once expired",
      labelNames: ["certificate", "path"] as const,
      // Every thread loads the same files.
      aggregator: "min",
      registers: r,
      collect() {
        this.reset();
        const now = Date.now();
        for (const { certificate, path, notAfterMs } of certificates.values()) {
          this.set({ certificate, path }, Math.round((notAfterMs - now) / 1000));
        }
      },
    }),
    /** The certificates in force (after a load or a rotation); replaces the previous set. */
    setTlsCertificates(list: readonly { certificate: string; path: string; notAfterMs: number }[]) {
      certificates.clear();
      for (const c of list) certificates.set(`${c.certificate}\0${c.path}`, c);
    },
    connectionsActive: new Gauge({
      name: "edgesocks_relay_connections_active",
      help: "Client TCP connections open now (handshaking or relaying)",
      registers: r,
    }),
    connectionsTotal: new Counter({
      name: "edgesocks_relay_connections_total",
      help: "Client TCP connections accepted",
      registers: r,
    }),
    sessionsActive: new Gauge({
      name: "edgesocks_relay_sessions_active",
      help: "Sessions relaying now, by command",
      labelNames: ["command"] as const,
      registers: r,
    }),
    sessionsTotal: new Counter({
      name: "edgesocks_relay_sessions_total",
      help: "Sessions ended, by command and status",
      labelNames: ["command", "status"] as const,
      registers: r,
    }),
    rejectedTotal: new Counter({
      name: "edgesocks_relay_rejected_total",
      help: "Connections or requests turned away, by reason",
      labelNames: ["reason"] as const,
      registers: r,
    }),
    quotaExhausted: new Counter({
      name: "edgesocks_relay_quota_exhausted_total",
      help: "Traffic quotas found spent: requests refused, open sessions closed or throttled",
      labelNames: ["action", "scope"] as const,
      registers: r,
    }),
    sessionDuration: new Histogram({
      name: "edgesocks_relay_session_duration_seconds",
      help: "Duration of ended sessions",
      labelNames: ["command"] as const,
      buckets: durationBucketsSeconds,
      registers: r,
    }),
    bytesUp: new Counter({
      name: "edgesocks_relay_bytes_up_total",
      help: "Bytes relayed from clients to destinations (open sessions included)",
      registers: r,
      collect() {
        this.reset();
        this.inc(traffic.totals().up);
      },
    }),
    bytesDown: new Counter({
      name: "edgesocks_relay_bytes_down_total",
      help: "Bytes relayed from destinations to clients (open sessions included)",
      registers: r,
      collect() {
        this.reset();
        this.inc(traffic.totals().down);
      },
    }),
    userBytes: new Counter({
      name: "edgesocks_relay_user_bytes_total",
      help: "Bytes relayed per user and direction (opt-in: ops.user_metrics_limit users, the rest as _other)",
      labelNames: ["user", "direction"] as const,
      registers: r,
      collect() {
        this.reset();
        for (const [user, bytes] of traffic.perUser()) {
          this.inc({ user, direction: "up" }, bytes.up);
          this.inc({ user, direction: "down" }, bytes.down);
        }
      },
    }),
    aclDecisions: new Counter({
      name: "edgesocks_relay_acl_decisions_total",
      help: "ACL decisions, by action and deciding rule (default: the default policy; at most 500 rule ids, then _other)",
      labelNames: ["action", "rule"] as const,
      registers: r,
    }),
    countryDecisions: new Counter({
      name: "edgesocks_relay_country_decisions_total",
      help: "ACL decisions with a GeoIP database loaded, by action and destination country (countries the policy names; other: the rest; unknown: not in the database)",
      labelNames: ["action", "country"] as const,
      registers: r,
    }),
    auth: new Counter({
      name: "edgesocks_relay_auth_total",
      help: "Authentications, by method (userpass, pam.username, pam.address, gssapi) and result (success, failure; error: the backend could not answer, e.g. PAM timed out or its pool was full)",
      labelNames: ["method", "result"] as const,
      registers: r,
    }),
    gssapiBadFrames: new Counter({
      name: "edgesocks_relay_gssapi_bad_frames_total",
      help: "RFC 1961 encapsulated sessions closed for a frame, by reason (gssapi_unwrap_failed: integrity or sequence check failed; gssapi_bad_frame: not an encapsulated message; gssapi_unprotected_frame: unencrypted at level 2; gssapi_client_abort; gssapi_wrap_failed: the relay could not wrap, e.g. the context expired)",
      labelNames: ["reason"] as const,
      registers: r,
    }),
    handshakeDuration: new Histogram({
      name: "edgesocks_relay_handshake_duration_seconds",
      help: "From accept to the final SOCKS reply",
      labelNames: ["version"] as const,
      buckets: latencyBucketsSeconds,
      registers: r,
    }),
    dnsDuration: new Histogram({
      name: "edgesocks_relay_dns_duration_seconds",
      help: "DNS resolution latency (cache misses only)",
      buckets: latencyBucketsSeconds,
      registers: r,
    }),
    dnsFailures: new Counter({
      name: "edgesocks_relay_dns_failures_total",
      help: "DNS resolutions that failed, by error code",
      labelNames: ["code"] as const,
      registers: r,
    }),
    upstreamConnectDuration: new Histogram({
      name: "edgesocks_relay_upstream_connect_duration_seconds",
      help: "TCP connect latency to destinations",
      buckets: latencyBucketsSeconds,
      registers: r,
    }),
    upstreamErrors: new Counter({
      name: "edgesocks_relay_upstream_errors_total",
      help: "Failed upstream connects, by SOCKS5 reply code",
      labelNames: ["reply"] as const,
      registers: r,
    }),
    routeConnections: new Counter({
      name: "edgesocks_relay_route_connections_total",
      help: "CONNECTs and BINDs through an upstream route, and UDP associations with its parent, by route and result (ok, destination_failed, failed: every chain failed at a hop, unavailable: every chain skipped as down)",
      labelNames: ["route", "result"] as const,
      registers: r,
    }),
    routeHopFailures: new Counter({
      name: "edgesocks_relay_route_hop_failures_total",
      help: "Upstream hops that failed (connect, handshake, auth, or could not reach the next hop), by route and hop",
      labelNames: ["route", "hop"] as const,
      registers: r,
    }),
    udpDatagrams: new Counter({
      name: "edgesocks_relay_udp_datagrams_total",
      help: "UDP datagrams relayed in (from clients), out (to clients) or dropped, with the drop reason",
      labelNames: ["direction", "reason"] as const,
      registers: r,
    }),
    bindRefusedPeers: new Counter({
      name: "edgesocks_relay_bind_refused_peers_total",
      help: "Connections to a BIND port from a peer other than the one the client named",
      registers: r,
    }),
    tlsHandshakeFailures: new Counter({
      name: "edgesocks_relay_tls_handshake_failures_total",
      help: "TLS handshakes that failed on a SOCKS-over-TLS listener",
      registers: r,
    }),
    spoolDropped: new Counter({
      name: "edgesocks_relay_spool_dropped_records_total",
      help: "Session records given up, by reason (spool_full, rotated_out, unwritable: the disk refused them too long, quarantine_full)",
      labelNames: ["reason"] as const,
      registers: r,
    }),
    spoolBacklogBytes: new Gauge({
      name: "edgesocks_relay_spool_backlog_bytes",
      help: "Bytes of session records in the spool not yet delivered",
      registers: r,
      // Read at scrape time: true while the shipper is stopped or disconnected.
      collect() {
        this.set(backlog());
      },
    }),
    spoolWritable: new Gauge({
      name: "edgesocks_relay_spool_writable",
      help: "1 while the spool's disk takes writes, 0 while it refuses them (full, read-only)",
      aggregator: "min",
      registers: r,
    }),
    spoolWriteErrors: new Counter({
      name: "edgesocks_relay_spool_write_errors_total",
      help: "Times the spool's disk refused a write (records wait in memory and are tried again)",
      registers: r,
    }),
    recordsQuarantined: new Counter({
      name: "edgesocks_relay_records_quarantined_total",
      help: "Session records moved to the quarantine file, by reason (refused: ingest refused them as invalid; unreadable: a torn or garbled spool line; invalid: failed the wire schema before spooling)",
      labelNames: ["reason"] as const,
      registers: r,
    }),
    rejectionRecordsLimited: new Counter({
      name: "edgesocks_relay_rejection_records_limited_total",
      help: "Connections refused before a request left out of the per-minute records: the window already held its maximum of (reason, client address) pairs",
      registers: r,
    }),
    /** Connects the backlog gauge to the spool. */
    setBacklogSource(next: () => number) {
      backlog = next;
    },
    /** Connects the byte counters to the relay's sessions. */
    setTrafficSource(next: TrafficSource) {
      source = next;
    },
    policyVersion: new Gauge({
      name: "edgesocks_relay_policy_version",
      help: "Version of the policy snapshot in force",
      // Worker threads take the main thread's policy; summing would count it once per thread.
      aggregator: "max",
      registers: r,
    }),
    policyReloads: new Counter({
      name: "edgesocks_relay_policy_reloads_total",
      help: "Policy reloads, by result",
      labelNames: ["result"] as const,
      registers: r,
    }),
    handshakesPending: new Gauge({
      name: "edgesocks_relay_handshakes_pending",
      help: "Client connections that have not completed their SOCKS request yet",
      registers: r,
    }),
    qosWaits: new Counter({
      name: "edgesocks_relay_qos_waits_total",
      help: "Times a shaped session paused reading to wait for tokens, by direction (up: client to destination)",
      labelNames: ["direction"] as const,
      registers: r,
    }),
    qosWaitingFlows: new Gauge({
      name: "edgesocks_relay_qos_waiting_flows",
      help: "Session directions paused for tokens now",
      registers: r,
    }),
    poolHits: new Counter({
      name: "edgesocks_relay_pool_hits_total",
      help: "CONNECTs to a pooled destination served by a pre-established connection",
      registers: r,
    }),
    poolMisses: new Counter({
      name: "edgesocks_relay_pool_misses_total",
      help: "CONNECTs to a pooled destination that found no ready connection",
      registers: r,
    }),
    poolEvictions: new Counter({
      name: "edgesocks_relay_pool_evictions_total",
      help: "Ready pool connections closed unused, by reason (idle, lru, closed, unsolicited_data)",
      labelNames: ["reason"] as const,
      registers: r,
    }),
    poolReady: new Gauge({
      name: "edgesocks_relay_pool_ready_connections",
      help: "Pre-established upstream connections ready now",
      registers: r,
    }),
  };
}

/**
 * Keeps a label's distinct values bounded: the first `max` values seen keep
 * their own series, later ones share `_other`, so a large rule set or user
 * base cannot blow up the metrics cardinality.
 */
export class BoundedLabel {
  readonly #seen = new Set<string>();
  constructor(private readonly max: number) {}

  of(value: string): string {
    if (this.#seen.has(value)) return value;
    if (this.#seen.size >= this.max) return "_other";
    this.#seen.add(value);
    return value;
  }
}
