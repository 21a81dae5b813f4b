import { parse, TomlError } from "smol-toml";
import { z } from "zod";
import { parseSource } from "./acl/conditions";
import { parseDestination } from "./acl/destination";
import { parsePortSpec } from "./acl/ports";
import { parseSchedule } from "./acl/schedule";
import { unknownKeyMessage } from "./did-you-mean";
import { formatIssues } from "./issues";
import { Route, type RouteInput } from "./route";
import type { AclRule, PolicyGroup, PolicyUser } from "./snapshot";
import { text } from "./text";

/*
 * RustSocks' acl.toml, loaded unchanged. Its rules (serde defaults in RustSocks):
 * - [global] default_policy = "allow" | "block" (lowercase only), "block" when absent;
 * - [[users]] username, groups (default []), [[users.rules]]; [[groups]] name, [[groups.rules]];
 * - a rule: action (required), description (""), destinations ([]), ports ([]),
 *   protocols (["both"]; "tcp" | "udp" | "both", "*" is an alias of "both"), priority (100, u32);
 * - an empty destinations, ports or protocols list matches nothing;
 * - duplicate users or groups, and a user naming a group that is not defined, are errors.
 * EdgeSocks adds optional rule keys: `id` (the rule's id in decisions, logs and session records;
 * `user:alice#0` style when absent), which `edgesocksctl policy export` writes; `sources` (client
 * IPs, CIDRs or `country:XX`); `schedule = { days, times, timezone }` and `close_at_window_end`.
 * `route` (an allow rule's CONNECTs go through the `[[routes]]` entry of that name). Top-level
 * `[[routes]]` (name, resolve, selector, max_fails, fail_timeout_secs, [[routes.chains]] with
 * proxy_protocol and [[routes.chains.hops]] type, host, port, username, password, user_id) define
 * the routes.
 * RustSocks ignores unknown keys; here they are errors (with the closest known key), because an
 * ignored `destination = [...]` drops a block rule without a word.
 */

const Rule = z.looseObject({
  id: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$/, "letters, digits, . _ : - (at most 100)")
    .optional(),
  action: z.enum(["allow", "block"]),
  description: text({ max: 4000 }).default(""),
  destinations: z.array(text({ max: 300 })).default([]),
  // RustSocks wants strings; bare integers are accepted too, as the obvious meaning.
  ports: z.array(z.union([text({ max: 1000 }), z.int()]).transform(String)).default([]),
  protocols: z.array(z.enum(["tcp", "udp", "both", "*"])).default(["both"]),
  priority: z.int().min(0).max(0xffffffff).default(100),
  sources: z.array(text({ max: 300 })).optional(),
  schedule: z
    .strictObject({
      days: z.array(text({ max: 20 })).optional(),
      times: z.array(text({ max: 40 })).optional(),
      timezone: text({ max: 100 }).optional(),
    })
    .optional(),
  close_at_window_end: z.boolean().default(false),
  route: z.string().optional(),
});

const User = z.looseObject({
  username: text({ min: 1, max: 255 }),
  groups: z.array(text({ min: 1, max: 255 })).default([]),
  rules: z.array(Rule).default([]),
});

const Group = z.looseObject({
  name: text({ min: 1, max: 255 }),
  rules: z.array(Rule).default([]),
});

const AclFile = z.looseObject({
  global: z.looseObject({ default_policy: z.enum(["allow", "block"]).default("block") }).optional(),
  users: z.array(User).default([]),
  groups: z.array(Group).default([]),
  routes: z.array(z.looseObject({})).default([]),
});

const KNOWN_KEYS = {
  file: ["global", "users", "groups", "routes"],
  global: ["default_policy"],
  user: ["username", "groups", "rules"],
  group: ["name", "rules"],
  rule: [
    "id",
    "action",
    "description",
    "destinations",
    "ports",
    "protocols",
    "priority",
    "sources",
    "schedule",
    "close_at_window_end",
    "route",
  ],
  route: ["name", "resolve", "selector", "max_fails", "fail_timeout_secs", "chains"],
  chain: ["proxy_protocol", "hops"],
  hop: ["type", "host", "port", "username", "password", "user_id"],
} as const;

/** acl.toml's snake_case route keys and the snapshot's camelCase ones. */
const ROUTE_KEYS: Record<string, string> = {
  max_fails: "maxFails",
  fail_timeout_secs: "failTimeoutSecs",
  user_id: "userId",
  proxy_protocol: "proxyProtocol",
};
const TOML_KEYS = Object.fromEntries(Object.entries(ROUTE_KEYS).map(([k, v]) => [v, k]));

function camelRoute(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(camelRoute);
  const record = asRecord(value);
  if (!record) return value;
  return Object.fromEntries(
    Object.entries(record).map(([key, member]) => [ROUTE_KEYS[key] ?? key, camelRoute(member)]),
  );
}

export interface AclTomlUser {
  username: string;
  groups: string[];
}

/** An acl.toml, converted: rules carry deterministic ids (`user:alice#0`, `group:developers#1`). */
export interface AclToml {
  defaultPolicy: "allow" | "block";
  users: AclTomlUser[];
  groups: { name: string }[];
  rules: AclRule[];
  /** `[[routes]]`, in the snapshot's shape. */
  routes: RouteInput[];
}

export type ParseAclTomlResult =
  | { ok: true; acl: AclToml; warnings: string[] }
  | { ok: false; error: string };

type Raw = Record<string, unknown>;

function asRecord(value: unknown): Raw | undefined {
  return value !== null && typeof value === "object" && !Array.isArray(value)
    ? (value as Raw)
    : undefined;
}

/** `users[0] (alice).rules[2].ports[0]`: the index and the name, so either finds the entry. */
function displayPath(doc: Raw, path: readonly PropertyKey[]): string {
  let text = "";
  path.forEach((key, i) => {
    if (typeof key === "number") {
      text += `[${key}]`;
      const section = path[i - 1];
      if (i === 1 && (section === "users" || section === "groups")) {
        const entry = asRecord((doc[section] as unknown[] | undefined)?.[key]);
        const name = entry?.[section === "users" ? "username" : "name"];
        if (typeof name === "string") text += ` (${name})`;
      }
    } else {
      text += text === "" ? String(key) : `.${String(key)}`;
    }
  });
  return text;
}

function unknownKeys(doc: Raw, report: (path: PropertyKey[], message: string) => void): void {
  const check = (value: unknown, known: readonly string[], path: PropertyKey[]) => {
    const record = asRecord(value);
    if (!record) return;
    for (const key of Object.keys(record)) {
      if (!known.includes(key)) {
        report([...path, key], unknownKeyMessage(key, known));
      }
    }
  };
  check(doc, KNOWN_KEYS.file, []);
  check(doc.global, KNOWN_KEYS.global, ["global"]);
  for (const section of ["users", "groups"] as const) {
    const entries = doc[section];
    if (!Array.isArray(entries)) continue;
    entries.forEach((entry, i) => {
      check(entry, section === "users" ? KNOWN_KEYS.user : KNOWN_KEYS.group, [section, i]);
      const rules = asRecord(entry)?.rules;
      if (Array.isArray(rules)) {
        rules.forEach((rule, j) => {
          check(rule, KNOWN_KEYS.rule, [section, i, "rules", j]);
        });
      }
    });
  }
  const routes = doc.routes;
  if (Array.isArray(routes)) {
    routes.forEach((route, i) => {
      check(route, KNOWN_KEYS.route, ["routes", i]);
      const chains = asRecord(route)?.chains;
      if (!Array.isArray(chains)) return;
      chains.forEach((chain, j) => {
        check(chain, KNOWN_KEYS.chain, ["routes", i, "chains", j]);
        const hops = asRecord(chain)?.hops;
        if (!Array.isArray(hops)) return;
        hops.forEach((hop, k) => {
          check(hop, KNOWN_KEYS.hop, ["routes", i, "chains", j, "hops", k]);
        });
      });
    });
  }
}

/**
 * Parses the text of a RustSocks `acl.toml`. Errors name the entry and field, e.g.
 * `users[0] (alice).rules[2].ports[0]: "70000" is not a port (0-65535)`; an unknown key is an
 * error; warnings report what was accepted but has no effect (rules that can never match).
 */
export function parseAclToml(text: string): ParseAclTomlResult {
  let doc: Raw;
  try {
    doc = parse(text) as Raw;
  } catch (error) {
    if (!(error instanceof TomlError)) throw error;
    const message = error.message.split("\n")[0]!.replace(/^Invalid TOML document: /, "");
    return {
      ok: false,
      error: `TOML syntax error at line ${error.line}, column ${error.column}: ${message}`,
    };
  }
  const show = (path: readonly PropertyKey[]) => displayPath(doc, path);

  if (Array.isArray(doc.policies) && doc.policies.length > 0) {
    return {
      ok: false,
      error:
        "policies: RustSocks dynamic access policies ([[policies]]) are not supported; " +
        "write them as [[users.rules]] or [[groups.rules]]",
    };
  }
  const unknown: string[] = [];
  unknownKeys(doc, (path, message) => unknown.push(`${show(path)}: ${message}`));
  if (unknown.length > 0) return { ok: false, error: unknown.join("\n") };
  const parsed = AclFile.safeParse(doc);
  if (!parsed.success) return { ok: false, error: formatIssues(parsed.error.issues, show) };
  const file = parsed.data;

  const warnings: string[] = [];
  const errors: string[] = [];
  const fail = (path: PropertyKey[], message: string) => errors.push(`${show(path)}: ${message}`);

  const groupNames = new Map<string, number>();
  file.groups.forEach((group, i) => {
    const first = groupNames.get(group.name);
    if (first === undefined) groupNames.set(group.name, i);
    else fail(["groups", i, "name"], `duplicate group "${group.name}" (first at groups[${first}])`);
  });
  const usernames = new Map<string, number>();
  file.users.forEach((user, i) => {
    const first = usernames.get(user.username);
    if (first === undefined) usernames.set(user.username, i);
    else
      fail(
        ["users", i, "username"],
        `duplicate user "${user.username}" (first at users[${first}])`,
      );
    user.groups.forEach((group, j) => {
      if (!groupNames.has(group)) {
        fail(
          ["users", i, "groups", j],
          `unknown group "${group}"; define it with [[groups]] name = "${group}"`,
        );
      }
    });
  });

  const routes: RouteInput[] = [];
  const routeNames = new Map<string, number>();
  file.routes.forEach((raw, i) => {
    const parsedRoute = Route.safeParse(camelRoute(raw));
    // A broken route still has its name, so the rules naming it are not reported as well.
    if (typeof raw.name === "string" && !routeNames.has(raw.name)) routeNames.set(raw.name, i);
    if (!parsedRoute.success) {
      errors.push(
        formatIssues(parsedRoute.error.issues, (path) =>
          show(["routes", i, ...path.map((key) => TOML_KEYS[String(key)] ?? key)]),
        ),
      );
      return;
    }
    const route = camelRoute(raw) as RouteInput;
    const first = routeNames.get(route.name);
    if (first !== i)
      fail(["routes", i, "name"], `duplicate route "${route.name}" (first at routes[${first}])`);
    routes.push(route);
  });

  const rules: AclRule[] = [];
  const ruleIds = new Map<string, string>();
  const convert = (
    owner: AclRule["owner"],
    ownerRules: z.infer<typeof Rule>[],
    path: [string, number],
  ) => {
    ownerRules.forEach((rule, j) => {
      const at = [...path, "rules", j];
      rule.destinations.forEach((pattern, k) => {
        const result = parseDestination(pattern);
        if (!result.ok) fail([...at, "destinations", k], result.error);
      });
      rule.ports.forEach((spec, k) => {
        const result = parsePortSpec(spec);
        if (!result.ok) fail([...at, "ports", k], result.error);
      });
      rule.sources?.forEach((pattern, k) => {
        const result = parseSource(pattern);
        if (!result.ok) fail([...at, "sources", k], result.error);
      });
      if (rule.schedule) {
        const result = parseSchedule(rule.schedule);
        if (!result.ok) fail([...at, "schedule", ...result.path], result.error);
      }
      if (rule.route !== undefined) {
        if (rule.action !== "allow") {
          fail(
            [...at, "route"],
            "only an allow rule can name a route (a block rule reaches nothing)",
          );
        } else if (!routeNames.has(rule.route)) {
          const known = [...routeNames.keys()];
          fail(
            [...at, "route"],
            `unknown route "${rule.route}" (${known.length === 0 ? "define it with [[routes]]" : `routes: ${known.join(", ")}`})`,
          );
        }
      }
      if (rule.close_at_window_end && !rule.schedule) {
        fail([...at, "close_at_window_end"], "needs a schedule: without one the window never ends");
      }
      const empty = (["destinations", "ports", "protocols"] as const).find(
        (f) => rule[f].length === 0,
      );
      if (empty || rule.sources?.length === 0) {
        warnings.push(
          `${show(at)}: skipped: ${empty ?? "sources"} is empty, so the rule never matches (as in RustSocks)`,
        );
        return;
      }
      const id = rule.id ?? `${owner.kind}:${owner.name}#${j}`;
      const first = ruleIds.get(id);
      if (first !== undefined) fail([...at, "id"], `duplicate rule id "${id}" (first at ${first})`);
      ruleIds.set(id, show(at));
      rules.push({
        id,
        owner,
        action: rule.action,
        ...(rule.description === "" ? {} : { description: rule.description }),
        destinations: rule.destinations,
        ports: rule.ports,
        protocols: [...new Set(rule.protocols.map((p) => (p === "*" ? "both" : p)))],
        priority: rule.priority,
        ...(rule.sources ? { sources: rule.sources } : {}),
        ...(rule.schedule ? { schedule: rule.schedule } : {}),
        ...(rule.close_at_window_end ? { closeAtWindowEnd: true } : {}),
        ...(rule.route !== undefined ? { route: rule.route } : {}),
      });
    });
  };
  file.users.forEach((user, i) => {
    convert({ kind: "user", name: user.username }, user.rules, ["users", i]);
  });
  file.groups.forEach((group, i) => {
    convert({ kind: "group", name: group.name }, group.rules, ["groups", i]);
  });
  if (errors.length > 0) return { ok: false, error: errors.join("\n") };

  return {
    ok: true,
    acl: {
      defaultPolicy: file.global?.default_policy ?? "block",
      users: file.users.map((u) => ({ username: u.username, groups: [...new Set(u.groups)] })),
      groups: file.groups.map((g) => ({ name: g.name })),
      rules,
      routes,
    },
    warnings,
  };
}

/** A user from the relay's own configuration (rustsocks.toml `[[auth.users]]`). */
export type AuthUser = z.input<typeof PolicyUser>;

/** The user, group, rule and acl parts of a PolicySnapshot draft (see sealSnapshot()). */
export interface SnapshotAclParts {
  acl: { enabled: boolean; defaultPolicy: "allow" | "block" };
  users: z.input<typeof PolicyUser>[];
  groups: z.input<typeof PolicyGroup>[];
  rules: AclRule[];
  /** Absent when acl.toml defines none, so a snapshot without routes keeps its hash. */
  routes?: RouteInput[];
}

/**
 * Merges an acl.toml with the relay's configured users into snapshot parts. A user in both gets
 * the union of their groups. A configured user's group matches an acl.toml group
 * case-insensitively, as RustSocks matches system groups; a group acl.toml does not define is
 * kept as a group without rules.
 */
export function aclTomlToSnapshotParts(
  acl: AclToml,
  authUsers: readonly AuthUser[] = [],
): SnapshotAclParts {
  const groups = acl.groups.map((g) => ({ name: g.name }));
  const byExactName = new Set(groups.map((g) => g.name));
  const byLowerName = new Map<string, string>();
  for (const g of groups) {
    const lower = g.name.toLowerCase();
    if (!byLowerName.has(lower)) byLowerName.set(lower, g.name);
  }
  const resolveGroup = (name: string): string => {
    if (byExactName.has(name)) return name;
    const match = byLowerName.get(name.toLowerCase());
    if (match !== undefined) return match;
    groups.push({ name });
    byExactName.add(name);
    byLowerName.set(name.toLowerCase(), name);
    return name;
  };

  const users = new Map<string, z.input<typeof PolicyUser>>();
  for (const user of authUsers) {
    users.set(user.username, {
      ...user,
      groups: [...new Set((user.groups ?? []).map(resolveGroup))],
    });
  }
  for (const user of acl.users) {
    const existing = users.get(user.username);
    if (existing) existing.groups = [...new Set([...(existing.groups ?? []), ...user.groups])];
    else users.set(user.username, { username: user.username, groups: [...user.groups] });
  }
  return {
    acl: { enabled: true, defaultPolicy: acl.defaultPolicy },
    users: [...users.values()],
    groups,
    rules: acl.rules,
    ...(acl.routes.length > 0 ? { routes: acl.routes } : {}),
  };
}
