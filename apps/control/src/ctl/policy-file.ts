import { parseAclToml } from "@edgesocks/policy";
import { stringify } from "smol-toml";
import { CtlError, UsageError } from "./args";
import type { Inputs, Outputs } from "./command";

export type PolicyExport = Outputs["policy"]["export"];
export type PolicyImport = Inputs["policy"]["import"];
export type PolicyFormat = "json" | "toml";

/** The JSON document's top-level keys (`version` is informational: import ignores it). */
const JSON_KEYS = ["version", "users", "groups", "rules", "acl", "auth", "qos"];
const U32_MAX = 0xffffffff;

/**
 * The policy as a RustSocks-style acl.toml: [global] default_policy, every user (with groups)
 * and group, each rule under its owner with its `id` (an EdgeSocks key: the relay's standalone
 * mode reads it too; RustSocks ignores it) and its `sources`, `schedule` and `close_at_window_end`
 * (EdgeSocks keys too, which RustSocks does not have). Users' and groups' QoS and limits, and the auth and
 * qos settings, are not in acl.toml: use JSON for those.
 */
export function policyToToml(policy: PolicyExport): string {
  const rulesOf = (kind: "user" | "group", name: string) =>
    policy.rules
      .filter((r) => r.owner.kind === kind && r.owner.name === name)
      .map((r) => {
        if (r.priority < 0 || r.priority > U32_MAX) {
          throw new CtlError(
            `rule "${r.id}": priority ${r.priority} does not fit acl.toml (0 to ${U32_MAX}); use --format json`,
          );
        }
        return {
          id: r.id,
          action: r.action,
          ...(r.description === null ? {} : { description: r.description }),
          destinations: r.destinations,
          ports: r.ports,
          protocols: r.protocols,
          priority: r.priority,
          ...(r.sources === null ? {} : { sources: r.sources }),
          ...(r.schedule === null ? {} : { schedule: r.schedule }),
          ...(r.closeAtWindowEnd ? { close_at_window_end: true } : {}),
          ...(r.route ? { route: r.route } : {}),
        };
      });
  const doc = {
    global: { default_policy: policy.acl.defaultPolicy },
    users: policy.users.map((u) => ({
      username: u.username,
      groups: u.groups,
      rules: rulesOf("user", u.username),
    })),
    groups: policy.groups.map((g) => ({ name: g.name, rules: rulesOf("group", g.name) })),
  };
  const conditional = policy.rules.some((r) => r.sources !== null || r.schedule !== null);
  // RustSocks would ignore these keys and so apply such a rule to every client at every hour.
  const warning = conditional
    ? "# sources, schedule and close_at_window_end are EdgeSocks keys: RustSocks does not enforce them.\n"
    : "";
  return `# EdgeSocks policy v${policy.version} as a RustSocks acl.toml (edgesocksctl policy export).
# Rule "id" keys are EdgeSocks rule ids (RustSocks ignores them).
${warning}${stringify(doc)}\n`;
}

/**
 * The import for an acl.toml: its users, groups, rules and default policy replace the current
 * ones; what acl.toml cannot say (users' enabled flag, limits, QoS and passwords; groups'
 * limits; auth and qos settings) is kept from `current` for users and groups that stay.
 */
export function tomlToImport(text: string, current: PolicyExport): PolicyImport {
  const parsed = parseAclToml(text);
  if (!parsed.ok) throw new CtlError(parsed.error.split("\n").join("; "));
  if (parsed.acl.routes.length > 0) {
    throw new CtlError(
      "routes: policy import does not carry [[routes]]; create them with the routes API (routes.put) first, then import rules that name them",
    );
  }
  const users = new Map(current.users.map((u) => [u.username, u]));
  const groups = new Map(current.groups.map((g) => [g.name, g]));
  return {
    users: parsed.acl.users.map((u) => {
      const was = users.get(u.username);
      return {
        username: u.username,
        groups: u.groups,
        ...(was ? { enabled: was.enabled, maxConnections: was.maxConnections, qos: was.qos } : {}),
      };
    }),
    groups: parsed.acl.groups.map((g) => {
      const was = groups.get(g.name);
      return was
        ? { name: g.name, maxConnectionsPerUser: was.maxConnectionsPerUser, qos: was.qos }
        : { name: g.name };
    }),
    rules: parsed.acl.rules.map((r) => ({
      ...r,
      description: r.description ?? null,
      sources: r.sources ?? null,
      schedule: r.schedule ?? null,
      closeAtWindowEnd: r.closeAtWindowEnd ?? false,
    })),
    acl: { enabled: current.acl.enabled, defaultPolicy: parsed.acl.defaultPolicy },
  };
}

/** The import for a JSON policy document (as `policy export` writes it). */
export function jsonToImport(text: string): PolicyImport {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (cause) {
    throw new CtlError(`not JSON: ${(cause as Error).message}`, { cause });
  }
  if (doc === null || typeof doc !== "object" || Array.isArray(doc)) {
    throw new CtlError("expected a JSON object with users, groups and rules");
  }
  const unknown = Object.keys(doc).filter((k) => !JSON_KEYS.includes(k));
  if (unknown.length > 0) {
    throw new CtlError(`unknown key "${unknown[0]}" (known keys: ${JSON_KEYS.join(", ")})`);
  }
  const { version: _version, ...policy } = doc as Record<string, unknown>;
  for (const key of ["users", "groups", "rules"]) {
    if (!Array.isArray(policy[key])) throw new CtlError(`${key}: expected a list`);
  }
  // `hasPassword` is what export says; import keeps a user's password unless one is given.
  const users = (policy.users as Record<string, unknown>[]).map(({ hasPassword: _h, ...u }) => u);
  return { ...policy, users } as PolicyImport;
}

export function formatOf(file: string, flag: PolicyFormat | undefined): PolicyFormat {
  if (flag !== undefined) return flag;
  if (/\.toml$/i.test(file)) return "toml";
  if (/\.json$/i.test(file)) return "json";
  throw new UsageError(`${file}: cannot tell toml from json by the name; pass --format`);
}
