/**
 * The control-plane database schema. Browser-safe: drizzle's sqlite-core only, no driver, so
 * the admin app can import row types from `@edgesocks/db/schema`.
 */
export { ADMIN_ROLES, type AdminRole, admins, apiTokens } from "./admins";
export { auditLog } from "./audit-log";
export { fleet } from "./fleet";
export { type NodeCounters, nodeCommands, nodes } from "./nodes";
export {
  aclRules,
  aclSettings,
  authMethodScopes,
  authSettings,
  policyGroups,
  policyRoutes,
  policyUsers,
  qosSettings,
  type StoredQuota,
  type StoredRoute,
  type StoredSchedule,
} from "./policy";
export { quotaUsage } from "./quota-usage";
export {
  SESSION_ROLLUP_DIMENSIONS,
  SESSION_ROLLUP_GRAINS_MS,
  SESSION_ROLLUP_STORED_GRAINS_MS,
  type SessionRollupDimension,
  sessionRollupCursor,
  sessionRollups,
} from "./session-rollups";
export { SESSION_COMMANDS, SESSION_STATUSES, sessions } from "./sessions";
export { snapshots } from "./snapshots";
