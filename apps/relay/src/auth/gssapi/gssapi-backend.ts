import { accessSync, constants } from "node:fs";
import type { GssapiConfig } from "../../config/schema";
import { RelayError } from "../../errors";
import { GssAcceptor } from "./gss-acceptor";
import { maxProtectionLevel, type ProtectionLevel } from "./protection-level";

/** What sessions need for GSS-API logins: the acceptor and the settings that shape them. */
export interface GssapiBackend {
  readonly acceptor: GssAcceptor;
  readonly necClearMode: boolean;
  /** The most per-message protection the relay grants (RFC 1961 §4.3 level). */
  readonly maxLevel: ProtectionLevel;
  readonly verbose: boolean;
  /** The user name a principal logs in as (after the realm rule). */
  userOf(principal: string): string;
  close(): void;
}

/**
 * Opens the keytab's acceptor credentials at start, so a missing or unreadable
 * keytab, a keytab without the service, or a library that does not load stops
 * the relay with one line (exit 2) instead of failing every login.
 */
export function openGssapiBackend(config: GssapiConfig): GssapiBackend {
  try {
    accessSync(config.keytab_path, constants.R_OK);
  } catch (cause) {
    throw new RelayError(
      "RELAY_E_CONFIG",
      `auth.gssapi.keytab_path: cannot read ${config.keytab_path} (${(cause as NodeJS.ErrnoException).code ?? (cause as Error).message})`,
      { cause },
    );
  }
  let acceptor: GssAcceptor;
  try {
    acceptor = GssAcceptor.open({
      serviceName: config.service_name,
      keytabPath: config.keytab_path,
      libraryPath: config.library_path,
    });
  } catch (cause) {
    const message = (cause as Error).message.split("\n")[0];
    const key = (cause as Error).name === "GssError" ? "auth.gssapi" : "auth.gssapi.library_path";
    throw new RelayError(
      "RELAY_E_CONFIG",
      key === "auth.gssapi"
        ? `auth.gssapi: no acceptor credentials for service_name "${config.service_name}" in ${config.keytab_path}: ${message}`
        : `auth.gssapi.library_path: cannot load ${config.library_path} (install libgssapi-krb5-2): ${message}`,
      { cause },
    );
  }
  const strip = new Set(config.strip_realms.map((realm) => realm.toUpperCase()));
  return {
    acceptor,
    necClearMode: config.nec_clear_mode,
    maxLevel: maxProtectionLevel(config.protection_level, config.nec_clear_mode),
    verbose: config.verbose,
    userOf: (principal) => realmStripped(principal, strip),
    close: () => acceptor.close(),
  };
}

/**
 * "alice@EXAMPLE.COM" → "alice" only when EXAMPLE.COM is listed: a principal of
 * another (trusted) realm keeps its realm, so "alice@OTHER" never becomes the local alice.
 */
export function realmStripped(principal: string, realms: ReadonlySet<string>): string {
  const at = principal.lastIndexOf("@");
  if (at <= 0) return principal;
  return realms.has(principal.slice(at + 1).toUpperCase()) ? principal.slice(0, at) : principal;
}
