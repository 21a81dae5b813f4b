import { readFileSync } from "node:fs";
import { dirname } from "node:path";
import { parse as parseToml } from "smol-toml";
import type { z } from "zod";
import { RelayError } from "../errors";
import { RelayConfig } from "./schema";
import { unknownKeys } from "./unknown-keys";

export interface LoadedConfig {
  config: RelayConfig;
  /** Directory of the file: relative paths inside it are resolved from here. */
  baseDir: string;
  /** One line per key we read past (RustSocks keys EdgeSocks does not support). */
  warnings: string[];
}

/** Reads and validates a relay TOML file; throws RelayError RELAY_E_CONFIG with one clear line. */
export function loadConfigFile(path: string): LoadedConfig {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (cause) {
    throw new RelayError("RELAY_E_CONFIG", `${path}: cannot read (${(cause as Error).message})`, {
      cause,
    });
  }
  return { ...parseConfigText(text, path), baseDir: dirname(path) };
}

export function parseConfigText(text: string, source = "config"): Omit<LoadedConfig, "baseDir"> {
  let raw: unknown;
  try {
    raw = parseToml(text);
  } catch (cause) {
    const message = (cause as Error).message.split("\n")[0];
    throw new RelayError("RELAY_E_CONFIG", `${source}: not valid TOML: ${message}`, { cause });
  }
  const parsed = RelayConfig.safeParse(raw);
  if (!parsed.success) {
    throw new RelayError("RELAY_E_CONFIG", `${source}: ${firstIssue(parsed.error)}`, {
      cause: parsed.error,
    });
  }
  const config = parsed.data;
  const semantic = checkSemantics(config);
  if (semantic) throw new RelayError("RELAY_E_CONFIG", `${source}: ${semantic}`);
  const warnings = unknownKeys(RelayConfig, raw).map(
    (key) => `${source}: ${key} is not supported by EdgeSocks and is ignored`,
  );
  config.auth.users.forEach((user, i) => {
    if (user.password !== undefined && user.password_hash === undefined) {
      warnings.push(
        `${source}: auth.users[${i}] (${user.username}) has a plaintext password; store an argon2id password_hash instead`,
      );
    }
  });
  return { config, warnings };
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
  const tls = server.tls;
  if (tls?.enabled) {
    if (!tls.certificate_path) return "server.tls.certificate_path: required when TLS is enabled";
    if (!tls.private_key_path) return "server.tls.private_key_path: required when TLS is enabled";
    if (tls.require_client_auth && !tls.client_ca_path) {
      return "server.tls.client_ca_path: required when require_client_auth = true";
    }
  }
  if (acl.enabled && !acl.config_file) return "acl.config_file: required when acl.enabled = true";
  return undefined;
}
