import type { AuthConfig } from "../config/schema";
import { ChildPool } from "./child-pool";
import { DirectoryGroups } from "./directory-groups";
import { type GssapiBackend, openGssapiBackend } from "./gssapi/gssapi-backend";
import { PamAuthenticator, verifyPamServices } from "./pam";

/**
 * The relay's authentication outside the policy snapshot: PAM and the system's
 * groups. The snapshot still says which SOCKS5 method is negotiated
 * (pam.username negotiates username/password, pam.address no authentication);
 * these say who checks.
 */
export interface AuthBackends {
  /** pam.username: RFC 1929 credentials go to PAM instead of the policy's users. */
  passwordPam?: PamAuthenticator | undefined;
  /** pam.address, in either tier: the client's address is checked before its greeting is read. */
  addressPam?: PamAuthenticator | undefined;
  /** group_source = "nss": authenticated users' groups from the system as well. */
  groups?: DirectoryGroups | undefined;
  /** socks_method = "gssapi": Kerberos logins (SOCKS5 method 0x01) against a keytab. */
  gssapi?: GssapiBackend | undefined;
  /** Log every PAM check. */
  verbose: boolean;
  /**
   * Fleet mode: the method the snapshot assigns cannot run on this host (why); every login is
   * refused, with no other method offered.
   */
  unavailable?: string | undefined;
}

/** The SOCKS methods the policy snapshot offers for a configured socks_method. */
export function snapshotMethod(socksMethod: AuthConfig["socks_method"]): "none" | "userpass" {
  if (socksMethod === "pam.username") return "userpass";
  if (socksMethod === "pam.address") return "none";
  // A login is required (SOCKS4 is refused); the handshake offers GSS-API instead.
  if (socksMethod === "gssapi") return "userpass";
  return socksMethod;
}

/** Builds the backends `auth` asks for; verify_service refuses a missing /etc/pam.d file here. */
export function createAuthBackends(auth: AuthConfig, pamDir?: string): AuthBackends {
  const usesPassword = auth.socks_method === "pam.username";
  const usesAddress = auth.client_method === "pam.address" || auth.socks_method === "pam.address";
  const { pam } = auth;
  let authenticator: PamAuthenticator | undefined;
  if (usesPassword || usesAddress) {
    if (pam.verify_service) {
      verifyPamServices(
        [
          ...(usesPassword ? [pam.username_service] : []),
          ...(usesAddress ? [pam.address_service] : []),
        ],
        pamDir,
      );
    }
    authenticator = new PamAuthenticator(
      {
        usernameService: pam.username_service,
        addressService: pam.address_service,
        defaultUser: pam.default_user,
        defaultRuser: pam.default_ruser,
        cacheTtlMs: pam.cache_ttl_secs * 1000,
      },
      new ChildPool({
        maxProcesses: pam.max_processes,
        maxQueued: pam.max_queued,
        timeoutMs: pam.timeout_ms,
      }),
    );
  }
  return {
    passwordPam: usesPassword ? authenticator : undefined,
    addressPam: usesAddress ? authenticator : undefined,
    groups:
      auth.group_source === "nss"
        ? new DirectoryGroups({
            pool: new ChildPool({
              maxProcesses: 4,
              maxQueued: 256,
              timeoutMs: 5_000,
              env: auth.group_lookup_env,
            }),
            ttlMs: auth.group_cache_ttl_secs * 1000,
          })
        : undefined,
    gssapi: auth.socks_method === "gssapi" ? openGssapiBackend(auth.gssapi) : undefined,
    verbose: pam.verbose,
  };
}

/**
 * What a SIGHUP cannot change (the backends are built at start): a reload that
 * differs here is refused with a request to restart.
 */
export function backendSettings(auth: AuthConfig): string {
  const pamMethod =
    auth.socks_method.startsWith("pam") || auth.socks_method === "gssapi"
      ? auth.socks_method
      : "policy";
  return JSON.stringify([
    pamMethod,
    auth.client_method,
    auth.pam,
    auth.group_source,
    auth.group_cache_ttl_secs,
    auth.socks_method === "gssapi" ? auth.gssapi : null,
    auth.group_lookup_env,
  ]);
}
