export { type CompiledAcl, compileAcl } from "./acl/compile";
export {
  COUNTRY_CODES,
  type CountryLookup,
  countryFromRecord,
  unmapIpv4,
} from "./acl/country";
export { evaluate, explain } from "./acl/evaluate";
export { CompiledSchedule, parseSchedule, type ScheduleSpec } from "./acl/schedule";
export type { AclAction, AclRequest, Decision, Explanation } from "./acl/types";
export { unresolvedAddressBlock } from "./acl/unresolved";
export {
  type AclToml,
  type AclTomlUser,
  type AuthUser,
  aclTomlToSnapshotParts,
  type ParseAclTomlResult,
  parseAclToml,
  type SnapshotAclParts,
} from "./acl-toml";
export {
  AuthAssignment,
  type AuthScopeKind,
  GROUP_SOURCES,
  GroupSource,
  RelayAuthScopes,
  type ResolvedAuth,
  resolveAuthScope,
  ScopeName,
  SOCKS_METHODS,
  SocksMethod,
} from "./auth-scope";
export { closestKey, unknownKeyMessage } from "./did-you-mean";
export { POLICY_ERROR_CODES, PolicyError, type PolicyErrorCode } from "./errors";
export {
  countedFromMs,
  isRolling,
  isTimeZone,
  type PeriodWindow,
  periodWindow,
  QUOTA_PERIODS,
  Quota,
  type QuotaPeriod,
  quotaSubject,
  ROLLING_BUCKETS,
  type RollingPeriod,
  rollingBucketMs,
  startOfLocalDay,
  TimeZone,
} from "./quota/index";
export {
  MAX_ROUTE_CHAINS,
  MAX_ROUTE_HOPS,
  Route,
  RouteChain,
  RouteHop,
  type RouteInput,
} from "./route";
export { RouteName } from "./rule-schema";
export {
  AclRule,
  PolicySnapshot,
  type PolicySnapshotInput,
  Schedule,
  type SnapshotResult,
  SourcePattern,
  sealSnapshot,
  snapshotHash,
  validateSnapshot,
} from "./snapshot";
export { type TextOptions, text, textProblem } from "./text";
