import type { AppRouter } from "@edgesocks/api";
import type { inferRouterInputs, inferRouterOutputs } from "@trpc/server";

/** Inputs and outputs of every procedure, inferred from the server's router (types only). */
export type RouterInputs = inferRouterInputs<AppRouter>;
export type RouterOutputs = inferRouterOutputs<AppRouter>;

export type User = RouterOutputs["users"]["list"][number];
export type Group = RouterOutputs["groups"]["list"][number];
export type Rule = RouterOutputs["rules"]["list"][number];
export type RuleCreateInput = RouterInputs["rules"]["create"];
export type NodeInfo = RouterOutputs["nodes"]["list"][number];
export type ActiveSession = RouterOutputs["sessions"]["active"]["items"][number];
export type SessionRecord = RouterOutputs["sessions"]["history"]["items"][number];
export type HistoryInput = RouterInputs["sessions"]["history"];
export type StatsSummary = RouterOutputs["stats"]["summary"];
export type SnapshotMeta = RouterOutputs["snapshots"]["list"]["items"][number];
export type SnapshotDiff = RouterOutputs["snapshots"]["diff"];
export type AuditEntry = RouterOutputs["audit"]["list"]["items"][number];
export type AclTestResult = RouterOutputs["acl"]["test"];
export type QosOverride = User["qos"];
