import type { PolicySnapshot } from "@edgesocks/policy";
import type { MetricObjectWithValues, MetricValue } from "@edgesocks/telemetry";
import type { RelayConfig } from "../config/schema";
import type { SessionSummary } from "../relay";
import type { SessionRecord } from "../session/record";
import type { SharedStateSize } from "./shared-state";

/** What a worker thread starts with. */
export interface ShardWorkerData {
  shard: number;
  config: RelayConfig;
  baseDir: string;
  node: { name: string | null; region: string | null };
  shared: SharedArrayBuffer;
  /** The quota ledger's counts. */
  quota: SharedArrayBuffer;
  size: SharedStateSize;
  /** The main thread's ops port: the egress guard refuses it too. */
  ownPorts: number[];
  /** The policy in force when the worker starts (later ones come as messages). */
  snapshot: PolicySnapshot | null;
}

/** Main thread → worker. */
export type ToShard =
  | { type: "policy"; snapshot: PolicySnapshot }
  | { type: "terminate"; id: string; reason: string }
  | { type: "collect"; request: number; what: "metrics" | "sessions" }
  | { type: "close"; graceMs: number };

/** Worker → main thread. */
export type FromShard =
  | { type: "listening" }
  | { type: "failed"; message: string; code?: string | undefined }
  /** The records of the sessions that ended in one turn of the worker's event loop, in order. */
  | { type: "records"; records: SessionRecord[] }
  | { type: "metrics"; request: number; metrics: MetricObjectWithValues<MetricValue<string>>[] }
  | { type: "sessions"; request: number; sessions: SessionSummary[] }
  | { type: "closed" };
