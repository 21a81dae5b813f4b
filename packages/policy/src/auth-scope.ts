// Browser-safe (the admin app's auth page uses it, @edgesocks/policy/auth-scope): zod only.
import { z } from "zod";

/**
 * How a relay authenticates SOCKS clients. `none` and `userpass` are checked against the policy;
 * `pam.username`, `pam.address` and `gssapi` are host-local: each relay runs them with the
 * settings of its own relay.toml (`[auth.pam]` services, `[auth.gssapi]` keytab).
 */
export const SOCKS_METHODS = ["none", "userpass", "pam.username", "pam.address", "gssapi"] as const;
export type SocksMethod = (typeof SOCKS_METHODS)[number];
export const SocksMethod = z.enum(SOCKS_METHODS, {
  error: (issue) =>
    `expected ${SOCKS_METHODS.map((m) => `"${m}"`).join(", ")}, got ${JSON.stringify(issue.input)}`,
});

/** Where an authenticated user's groups come from: the policy alone, or also the host's NSS. */
export const GROUP_SOURCES = ["policy", "nss"] as const;
export type GroupSource = (typeof GROUP_SOURCES)[number];
export const GroupSource = z.enum(GROUP_SOURCES, {
  error: (issue) => `expected "policy" or "nss", got ${JSON.stringify(issue.input)}`,
});

/** A node or region name, as nodes.enroll accepts them. */
export const ScopeName = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/, "letters, digits, . _ - (at most 63)");

/** The method one scope (the fleet, a region, a node) is given. */
export const AuthAssignment = z.strictObject({
  method: SocksMethod,
  /** @default "policy" */
  groupSource: GroupSource.optional(),
});
export type AuthAssignment = z.infer<typeof AuthAssignment>;

/**
 * Which method each relay uses: the most specific scope wins (node, then region, then the fleet
 * default). Absent, or no scope matching a relay: the relay offers the policy's `auth.methods`.
 */
export const RelayAuthScopes = z.strictObject({
  default: AuthAssignment.optional(),
  /** By region name. */
  regions: z.record(ScopeName, AuthAssignment).optional(),
  /** By node name. */
  nodes: z.record(ScopeName, AuthAssignment).optional(),
});
export type RelayAuthScopes = z.infer<typeof RelayAuthScopes>;

export type AuthScopeKind = "node" | "region" | "fleet";

/** The method a relay was given and by which scope. */
export interface ResolvedAuth {
  method: SocksMethod;
  groupSource: GroupSource;
  scope: AuthScopeKind;
}

/**
 * The method for the relay named `node.name` in `node.region`: its node override, else its
 * region's, else the fleet default; null when none applies (the policy's `methods` do).
 */
export function resolveAuthScope(
  scopes: RelayAuthScopes | undefined,
  node: { name: string | null; region: string | null },
): ResolvedAuth | null {
  if (scopes === undefined) return null;
  const pick = (assignment: AuthAssignment | undefined, scope: AuthScopeKind) =>
    assignment === undefined
      ? null
      : { method: assignment.method, groupSource: assignment.groupSource ?? "policy", scope };
  // Own-property lookups only: a node named "constructor" must not find Object.prototype's.
  const own = (record: Record<string, AuthAssignment> | undefined, key: string | null) =>
    record !== undefined && key !== null && Object.hasOwn(record, key) ? record[key] : undefined;
  return (
    pick(own(scopes.nodes, node.name), "node") ??
    pick(own(scopes.regions, node.region), "region") ??
    pick(scopes.default, "fleet")
  );
}
