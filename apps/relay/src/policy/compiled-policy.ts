import {
  type CompiledAcl,
  compileAcl,
  type PolicySnapshot,
  type ResolvedAuth,
  type Route,
  resolveAuthScope,
} from "@edgesocks/policy";
import { AuthMethod } from "@edgesocks/socks";
import type { UserSecret } from "../auth/credentials";
import { compileQuotas, type QuotaRule } from "../quota/quota-rules";
import { PolicyLimits } from "./policy-limits";

export interface PolicyUser extends UserSecret {
  groups: readonly string[];
  maxConnections?: number | undefined;
}

/** A snapshot compiled for the hot path; built once, then only read. */
export interface CompiledPolicy {
  readonly snapshot: PolicySnapshot;
  readonly acl: CompiledAcl;
  readonly users: ReadonlyMap<string, PolicyUser>;
  /**
   * The method the snapshot's auth.scopes give this relay (fleet mode); null: none does, and the
   * relay offers `auth.methods` with the backends of its relay.toml.
   */
  readonly assigned: ResolvedAuth | null;
  /** SOCKS5 methods in the server's order of preference. */
  readonly methods: readonly number[];
  readonly requiresPassword: boolean;
  readonly anonymousUser: string;
  /** Connection caps and QoS classes per user, indexed once here. */
  readonly limits: PolicyLimits;
  /** Traffic quotas per user (own and groups'); users without any are absent. */
  readonly quotas: ReadonlyMap<string, readonly QuotaRule[]>;
  /** Upstream routes by name (rules name them; the snapshot checked every reference). */
  readonly routes: ReadonlyMap<string, Route>;
}

/** Which relay a snapshot is compiled for: auth.scopes name nodes and regions. */
export interface RelayIdentity {
  name: string | null;
  region: string | null;
}

/** What a method assigned to this relay negotiates (RFC 1928 method, and whether SOCKS4 is out). */
function assignedMethods(assigned: ResolvedAuth): { methods: number[]; requiresPassword: boolean } {
  switch (assigned.method) {
    case "none":
    case "pam.address":
      return { methods: [AuthMethod.None], requiresPassword: false };
    case "userpass":
    case "pam.username":
      return { methods: [AuthMethod.UserPass], requiresPassword: true };
    case "gssapi":
      return { methods: [AuthMethod.Gssapi], requiresPassword: true };
  }
}

export function compilePolicy(
  snapshot: PolicySnapshot,
  node: RelayIdentity = { name: null, region: null },
): CompiledPolicy {
  const users = new Map<string, PolicyUser>();
  for (const user of snapshot.users) {
    users.set(user.username, {
      username: user.username,
      enabled: user.enabled,
      passwordHash: user.passwordHash,
      password: user.password,
      groups: user.groups,
      maxConnections: user.maxConnections,
    });
  }
  const assigned = resolveAuthScope(snapshot.auth.scopes, node);
  // Password first: when a client offers both, the server's preference wins.
  const { methods, requiresPassword } = assigned
    ? assignedMethods(assigned)
    : {
        methods: [
          ...(snapshot.auth.methods.includes("userpass") ? [AuthMethod.UserPass] : []),
          ...(snapshot.auth.methods.includes("none") ? [AuthMethod.None] : []),
        ],
        requiresPassword: !snapshot.auth.methods.includes("none"),
      };
  return Object.freeze({
    snapshot,
    acl: compileAcl(snapshot),
    users,
    assigned,
    methods,
    requiresPassword,
    anonymousUser: snapshot.auth.anonymousUser,
    limits: new PolicyLimits(snapshot),
    quotas: compileQuotas(snapshot),
    routes: new Map((snapshot.routes ?? []).map((route) => [route.name, route])),
  });
}
