import {
  Counter,
  Gauge,
  Histogram,
  latencyBucketsSeconds,
  type Registry,
} from "@edgesocks/telemetry";

/** The control plane's metrics; one set per registry (per control-plane instance). */
export interface ControlMetrics {
  apiDurationSeconds: Histogram<"procedure" | "type" | "code">;
  ingestRowsTotal: Counter<"result">;
  ingestBatchesTotal: Counter;
  connectedNodes: Gauge;
  snapshotVersion: Gauge;
  nodeConfigStatus: Gauge<"node" | "region" | "status">;
  authFailuresTotal: Counter<"kind">;
  rateLimitedTotal: Counter;
  writeQueueDepth: Gauge;
  writeQueueRefusedTotal: Counter;
  retentionDeletedTotal: Counter;
  snapshotPushesTotal: Counter;
  slowSubscribersClosedTotal: Counter;
  commandsExpiredTotal: Counter;
}

export interface ControlMetricsSources {
  /** Current config status of every node, read at scrape time. */
  nodeStatuses?: () => Promise<{ node: string; region: string; status: string }[]>;
  /** Writes queued or running, read at scrape time. */
  writeQueueDepth?: () => number;
}

const STATUS_LABELS = ["SYNCED", "STALE", "NOT_SENT", "ERROR"] as const;

export function createControlMetrics(
  registry: Registry,
  sources: ControlMetricsSources = {},
): ControlMetrics {
  const prefix = "edgesocks_control_";
  const registers = [registry];
  return {
    apiDurationSeconds: new Histogram({
      name: `${prefix}api_request_duration_seconds`,
      help: "tRPC procedure latency (subscriptions: until the first event or the end)",
      labelNames: ["procedure", "type", "code"],
      buckets: latencyBucketsSeconds,
      registers,
    }),
    ingestRowsTotal: new Counter({
      name: `${prefix}ingest_rows_total`,
      help: "Session records received by sessions.ingest, by result (inserted | duplicate)",
      labelNames: ["result"],
      registers,
    }),
    ingestBatchesTotal: new Counter({
      name: `${prefix}ingest_commits_total`,
      help: "Database commits of session records (several relays' batches coalesce into one)",
      registers,
    }),
    connectedNodes: new Gauge({
      name: `${prefix}connected_nodes`,
      help: "Relays with an open config.watch subscription on this instance",
      registers,
    }),
    snapshotVersion: new Gauge({
      name: `${prefix}snapshot_version`,
      help: "Newest policy snapshot version this instance knows",
      registers,
    }),
    nodeConfigStatus: new Gauge({
      name: `${prefix}node_config_status`,
      help: "Per-node config status (1 for the current status: SYNCED, STALE, NOT_SENT, ERROR)",
      labelNames: ["node", "region", "status"],
      registers,
      async collect() {
        if (sources.nodeStatuses === undefined) return;
        const statuses = await sources.nodeStatuses();
        this.reset();
        for (const { node, region, status } of statuses) {
          for (const label of STATUS_LABELS) {
            this.set({ node, region, status: label }, label === status.replace(" ", "_") ? 1 : 0);
          }
        }
      },
    }),
    authFailuresTotal: new Counter({
      name: `${prefix}auth_failures_total`,
      help: "Requests with a missing, unknown or revoked token, by token kind",
      labelNames: ["kind"],
      registers,
    }),
    rateLimitedTotal: new Counter({
      name: `${prefix}auth_rate_limited_total`,
      help: "Requests refused because their address failed authentication too often",
      registers,
    }),
    writeQueueDepth: new Gauge({
      name: `${prefix}write_queue_depth`,
      help: "Writes queued or running in this instance's write queue",
      registers,
      collect() {
        if (sources.writeQueueDepth !== undefined) this.set(sources.writeQueueDepth());
      },
    }),
    writeQueueRefusedTotal: new Counter({
      name: `${prefix}write_queue_refused_total`,
      help: "Writes refused because the write queue was full",
      registers,
    }),
    retentionDeletedTotal: new Counter({
      name: `${prefix}retention_deleted_sessions_total`,
      help: "Session records deleted by the retention job",
      registers,
    }),
    snapshotPushesTotal: new Counter({
      name: `${prefix}snapshot_pushes_total`,
      help: "Snapshots sent to relays on config.watch",
      registers,
    }),
    slowSubscribersClosedTotal: new Counter({
      name: `${prefix}ws_slow_consumers_closed_total`,
      help: "WebSocket connections closed because their send buffer kept growing",
      registers,
    }),
    commandsExpiredTotal: new Counter({
      name: `${prefix}node_commands_expired_total`,
      help: "Node commands dropped because no instance delivered them in time",
      registers,
    }),
  };
}
