import { readFileSync } from "node:fs";
import { dirname } from "node:path";
import { unknownKeyMessage } from "@edgesocks/policy";
import { parse as parseToml } from "smol-toml";
import type { z } from "zod";
import { serviceNameProblem } from "../auth/gssapi/service-name";
import { RelayError } from "../errors";
import { deepFreeze } from "./deep-freeze";
import { applyOverrides, type ConfigOverride } from "./overrides";
import { RelayConfig } from "./schema";
import { isIgnoredRustSocksKey, unknownKeys } from "./unknown-keys";

export interface LoadedConfig {
  /** Validated and deep-frozen. */
  config: RelayConfig;
  /** Directory of the file: relative paths inside it are resolved from here. */
  baseDir: string;
  /** One line per key we read past (RustSocks keys EdgeSocks deliberately does not support). */
  warnings: string[];
}

/**
 * Reads and validates a relay TOML file, with `overrides` (command-line flags)
 * set before validation; throws RelayError RELAY_E_CONFIG with one clear line.
 */
export function loadConfigFile(
  path: string,
  overrides: readonly ConfigOverride[] = [],
): LoadedConfig {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (cause) {
    throw new RelayError("RELAY_E_CONFIG", `${path}: cannot read (${(cause as Error).message})`, {
      cause,
    });
  }
  return { ...parseConfigText(text, path, overrides), baseDir: dirname(path) };
}

export function parseConfigText(
  text: string,
  source = "config",
  overrides: readonly ConfigOverride[] = [],
): Omit<LoadedConfig, "baseDir"> {
  let raw: unknown;
  try {
    raw = applyOverrides(parseToml(text), overrides);
  } catch (cause) {
    const message = (cause as Error).message.split("\n")[0];
    throw new RelayError("RELAY_E_CONFIG", `${source}: not valid TOML: ${message}`, { cause });
  }
  // An unknown key is refused: a typo such as `socks_methd` would otherwise
  // leave its default in force (there: no authentication).
  const warnings: string[] = [];
  for (const unknown of unknownKeys(RelayConfig, raw)) {
    if (isIgnoredRustSocksKey(unknown.path)) {
      warnings.push(
        `${source}: ${unknown.path} is a RustSocks key EdgeSocks does not support; ignored`,
      );
      continue;
    }
    const hint = unknownKeyMessage(unknown.key, unknown.known);
    throw new RelayError("RELAY_E_CONFIG", `${source}: ${unknown.path}: ${hint}`);
  }
  const parsed = RelayConfig.safeParse(raw);
  if (!parsed.success) {
    const issue = firstIssue(parsed.error);
    const from = overrides.find(({ key }) => issue.startsWith(`${key.join(".")}:`));
    throw new RelayError(
      "RELAY_E_CONFIG",
      `${source}: ${issue}${from ? ` (from ${from.flag})` : ""}`,
      { cause: parsed.error },
    );
  }
  const config = parsed.data;
  const semantic = checkSemantics(config);
  if (semantic) throw new RelayError("RELAY_E_CONFIG", `${source}: ${semantic}`);
  config.auth.users.forEach((user, i) => {
    if (user.password !== undefined && user.password_hash === undefined) {
      warnings.push(
        `${source}: auth.users[${i}] (${user.username}) has a plaintext password; store an argon2id password_hash instead`,
      );
    }
  });
  return { config: deepFreeze(config), warnings };
}

/** Formats a zod issue as `key.path: problem`. */
export function firstIssue(error: z.ZodError): string {
  const issue = error.issues[0];
  if (!issue) return "invalid";
  const path = issue.path
    .map((p, i) => (typeof p === "number" ? `[${p}]` : i === 0 ? String(p) : `.${String(p)}`))
    .join("");
  return `${path || "(root)"}: ${issue.message}`;
}

function checkSemantics(config: RelayConfig): string | undefined {
  const { auth, server, acl } = config;
  for (const [i, user] of auth.users.entries()) {
    if (user.password === undefined && user.password_hash === undefined) {
      return `auth.users[${i}] (${user.username}): needs password_hash (argon2id) or password`;
    }
  }
  const seen = new Set<string>();
  for (const [i, user] of auth.users.entries()) {
    if (seen.has(user.username))
      return `auth.users[${i}].username: duplicate user "${user.username}"`;
    seen.add(user.username);
  }
  if (auth.socks_method === "userpass" && auth.users.length === 0) {
    return `auth.socks_method: "userpass" needs at least one [[auth.users]] entry`;
  }
  if (auth.socks_method === "gssapi") {
    const problem = serviceNameProblem(auth.gssapi.service_name);
    if (problem) return `auth.gssapi.service_name: ${problem}`;
  }
  const tls = server.tls;
  if (tls?.enabled) {
    if (!tls.certificate_path) return "server.tls.certificate_path: required when TLS is enabled";
    if (!tls.private_key_path) return "server.tls.private_key_path: required when TLS is enabled";
    if (tls.require_client_auth && !tls.client_ca_path) {
      return "server.tls.client_ca_path: required when require_client_auth = true";
    }
  }
  if (server.proxy_protocol !== "off") {
    if (server.proxy_protocol_trusted.length === 0) {
      return `server.proxy_protocol_trusted: needs at least one address or CIDR when proxy_protocol = "${server.proxy_protocol}" (a header from anyone else is refused)`;
    }
  }
  if (auth.group_source !== "nss" && Object.keys(auth.group_lookup_env).length > 0) {
    return 'auth.group_lookup_env: only used with auth.group_source = "nss"; set that or remove the table';
  }
  if (acl.enabled && !acl.config_file) return "acl.config_file: required when acl.enabled = true";
  return undefined;
}
