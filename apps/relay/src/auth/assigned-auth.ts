import { accessSync, constants } from "node:fs";
import { join } from "node:path";
import type { ResolvedAuth } from "@edgesocks/policy";
import type { Logger } from "@edgesocks/telemetry";
import type { AuthConfig } from "../config/schema";
import { type AuthBackends, createAuthBackends } from "./auth-backends";
import { PAMTESTER } from "./pam";

/**
 * Fleet mode: the backends follow the method the snapshot's auth.scopes give
 * this relay, built from its own relay.toml settings ([auth.pam] services,
 * [auth.gssapi] keytab), since PAM, NSS and Kerberos are host-local. A method
 * the host cannot run leaves the relay with backends that refuse every login
 * (never another method), and the reason is reported to the control plane.
 */

export interface AssignedAuthOptions {
  /** The relay.toml `[auth]` table: its backend settings serve whatever method is assigned. */
  config: AuthConfig;
  /** The backends relay.toml itself asks for: in force while no scope assigns a method. */
  configured: AuthBackends;
  logger: Logger;
  /** @default "/etc/pam.d" */
  pamDir?: string;
  /** @default PAMTESTER */
  pamtesterPath?: string;
  /** How long a replaced backend stays open for handshakes that started with it. */
  retireAfterMs: number;
}

/** What `[auth]` would say for `assigned`: its method and group source, the file's settings. */
export function assignedConfig(config: AuthConfig, assigned: ResolvedAuth): AuthConfig {
  return {
    ...config,
    socks_method: assigned.method,
    group_source: assigned.groupSource === "nss" ? "nss" : "config",
    // Checked below for every PAM method in use, as a reason to report instead of an exit.
    pam: { ...config.pam, verify_service: false },
  };
}

function missing(path: string, mode: number): string | null {
  try {
    accessSync(path, mode);
    return null;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code ?? (error as Error).message;
  }
}

/** Why this host cannot run `auth` (PAM services or pamtester missing); null: nothing found. */
export function pamProblem(
  auth: AuthConfig,
  options: { pamDir?: string; pamtesterPath?: string } = {},
): string | null {
  const services: [string, string][] = [];
  if (auth.socks_method === "pam.username")
    services.push(["username_service", auth.pam.username_service]);
  if (auth.socks_method === "pam.address" || auth.client_method === "pam.address")
    services.push(["address_service", auth.pam.address_service]);
  if (services.length === 0) return null;
  const pamtester = options.pamtesterPath ?? PAMTESTER;
  if (missing(pamtester, constants.X_OK))
    return `${auth.socks_method}: pamtester is not installed (${pamtester}; Debian package pamtester)`;
  const pamDir = options.pamDir ?? "/etc/pam.d";
  for (const [key, service] of services) {
    const file = join(pamDir, service);
    const why = missing(file, constants.R_OK);
    if (why)
      return `${auth.socks_method}: PAM service "${service}" has no readable file ${file} (${why}; [auth.pam] ${key} in relay.toml)`;
  }
  return null;
}

const unavailable = (problem: string, verbose: boolean): AuthBackends => ({
  unavailable: problem,
  verbose,
});

export class AssignedAuth {
  readonly #options: AssignedAuthOptions;
  #current: AuthBackends;
  /** The assignment the current backends were built for (JSON; "null": relay.toml's). */
  #key = "null";
  #problem: string | null = null;

  constructor(options: AssignedAuthOptions) {
    this.#options = options;
    this.#current = options.configured;
  }

  /** The backends new sessions use. */
  get current(): AuthBackends {
    return this.#current;
  }

  /** Why the assigned method cannot run here (logins are refused); null: it can. */
  get problem(): string | null {
    return this.#problem;
  }

  /**
   * Follows the method a new policy assigns. The same method keeps its backends (and caches), but
   * one that could not run is tried again: a later snapshot recovers a host fixed meanwhile.
   */
  follow(assigned: ResolvedAuth | null): void {
    const key = JSON.stringify(assigned);
    if (key === this.#key && this.#problem === null) return;
    const { logger, config } = this.#options;
    const previous = this.#current;
    const hadProblem = this.#problem;
    if (assigned === null) {
      this.#current = this.#options.configured;
      this.#problem = null;
    } else {
      const auth = assignedConfig(config, assigned);
      let problem = pamProblem(auth, this.#options);
      let next: AuthBackends | undefined;
      if (problem === null) {
        try {
          next = createAuthBackends(auth, this.#options.pamDir);
        } catch (error) {
          // A keytab that cannot be read, a GSS-API library that does not load.
          problem = (error as Error).message;
        }
      }
      this.#problem = problem;
      this.#current = next ?? unavailable(problem!, config.pam.verbose);
    }
    this.#key = key;
    if (previous !== this.#current) this.#retire(previous);
    const method = assigned?.method ?? "policy methods";
    if (this.#problem !== null) {
      logger.error(
        { method, scope: assigned?.scope, problem: this.#problem },
        "the assigned auth method cannot run on this relay; every login is refused until it can",
      );
    } else if (hadProblem !== null || previous !== this.#current) {
      logger.info({ method, scope: assigned?.scope ?? null }, "auth method in force");
    }
  }

  /** Closes what `backends` hold once the handshakes that started with them are over. */
  #retire(backends: AuthBackends): void {
    if (backends === this.#options.configured || !backends.gssapi) return;
    const gssapi = backends.gssapi;
    setTimeout(() => gssapi.close(), this.#options.retireAfterMs).unref();
  }
}
