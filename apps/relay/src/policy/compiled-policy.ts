import { type CompiledAcl, compileAcl, type PolicySnapshot, type Route } from "@edgesocks/policy";
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

export function compilePolicy(snapshot: PolicySnapshot): CompiledPolicy {
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
  // Password first: when a client offers both, the server's preference wins.
  const methods = [
    ...(snapshot.auth.methods.includes("userpass") ? [AuthMethod.UserPass] : []),
    ...(snapshot.auth.methods.includes("none") ? [AuthMethod.None] : []),
  ];
  return Object.freeze({
    snapshot,
    acl: compileAcl(snapshot),
    users,
    methods,
    requiresPassword: !snapshot.auth.methods.includes("none"),
    anonymousUser: snapshot.auth.anonymousUser,
    limits: new PolicyLimits(snapshot),
    quotas: compileQuotas(snapshot),
    routes: new Map((snapshot.routes ?? []).map((route) => [route.name, route])),
  });
}
