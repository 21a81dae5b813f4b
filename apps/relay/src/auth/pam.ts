import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { LRUCache } from "lru-cache";
import { RelayError } from "../errors";
import type { ChildPool, ChildResult } from "./child-pool";

/**
 * PAM through Debian's `pamtester`, one child process per check, in a bounded
 * pool (see ChildPool and docs/relay.md for why not a native binding). Both
 * tiers pass the client address as PAM_RHOST and run account management after
 * authentication, so locked and expired accounts are refused.
 */

export interface PamSettings {
  usernameService: string;
  addressService: string;
  defaultUser: string;
  defaultRuser: string;
  /** Log every check, allowed or not. */
  verbose: boolean;
  /** How long an allowed check is remembered. */
  cacheTtlMs: number;
  /** The pamtester binary. @default "/usr/bin/pamtester" */
  pamtesterPath?: string | undefined;
}

/** `denied`: PAM said no. `error`: PAM could not answer (broken stack, timeout, full pool). */
export type PamVerdict =
  | { result: "success" }
  | { result: "denied"; detail: string }
  | { result: "error"; detail: string };

/** A user name PAM is asked about: refused before any process runs when it could pass for an option. */
export function pamUsernameProblem(username: string): string | undefined {
  if (username.length === 0) return "empty";
  if (username.startsWith("-")) return "starts with '-'";
  // C0, DEL and C1 controls; also NUL, which no C string carries.
  for (const char of username) {
    const code = char.codePointAt(0)!;
    if (code < 0x20 || (code >= 0x7f && code <= 0x9f)) return "contains a control character";
  }
  return undefined;
}

/** The address as PAM modules (pam_access) expect it: IPv4-mapped IPv6 as plain IPv4. */
export function pamRhost(address: string): string {
  return address.startsWith("::ffff:") && address.includes(".") ? address.slice(7) : address;
}

/** pamtester's messages for a PAM stack that failed rather than refused. */
const SYSTEM_ERRORS =
  /System error|Module is unknown|Critical error|Service error|Failed to load|Error in service module|Memory buffer error/i;

export class PamAuthenticator {
  readonly #key = randomBytes(32);
  readonly #cache: LRUCache<string, Buffer>;

  constructor(
    readonly settings: PamSettings,
    readonly pool: ChildPool,
  ) {
    // ttl 0 would mean forever to lru-cache; here it means never remember.
    this.#cache = new LRUCache({ max: 10_000, ttl: Math.max(1, settings.cacheTtlMs) });
  }

  /** pam.username: the RFC 1929 credentials, through `username_service`. */
  async verifyPassword(username: string, password: string, rhost: string): Promise<PamVerdict> {
    const problem = pamUsernameProblem(username);
    if (problem) return { result: "denied", detail: `username ${problem}` };
    // PAM's conversation reads one line: "right\nanything" must not pass as "right".
    if (password.includes("\n") || password.includes("\r") || password.includes("\0"))
      return { result: "denied", detail: "password contains a line break or NUL" };
    const cacheKey = `u\0${username}\0${rhost}`;
    const digest = this.#digest(cacheKey, password);
    const cached = this.#cache.get(cacheKey);
    if (cached && timingSafeEqual(cached, digest)) return { result: "success" };
    const verdict = await this.#check({
      service: this.settings.usernameService,
      user: username,
      ruser: username,
      rhost,
      password,
    });
    if (verdict.result === "success" && this.settings.cacheTtlMs > 0)
      this.#cache.set(cacheKey, digest);
    return verdict;
  }

  /** pam.address: the client address alone, as `default_user`, through `address_service`. */
  async verifyAddress(rhost: string): Promise<PamVerdict> {
    const cacheKey = `a\0${rhost}`;
    const digest = this.#digest(cacheKey, "");
    const cached = this.#cache.get(cacheKey);
    if (cached && timingSafeEqual(cached, digest)) return { result: "success" };
    const verdict = await this.#check({
      service: this.settings.addressService,
      user: this.settings.defaultUser,
      ruser: this.settings.defaultRuser,
      rhost,
      password: "",
    });
    if (verdict.result === "success" && this.settings.cacheTtlMs > 0)
      this.#cache.set(cacheKey, digest);
    return verdict;
  }

  /** Forget every remembered success, e.g. when the policy changes. */
  clear(): void {
    this.#cache.clear();
  }

  async #check(request: {
    service: string;
    user: string;
    ruser: string;
    rhost: string;
    password: string;
  }): Promise<PamVerdict> {
    // The password goes to stdin only: argv is readable by every local user (ps, /proc).
    const args = [
      "-v",
      "-I",
      `rhost=${request.rhost}`,
      "-I",
      `ruser=${request.ruser}`,
      request.service,
      request.user,
      "authenticate",
      "acct_mgmt",
    ];
    const stdin = request.password ? `${request.password}\n` : "";
    return verdictOf(
      await this.pool.run(this.settings.pamtesterPath ?? "/usr/bin/pamtester", args, stdin),
    );
  }

  #digest(key: string, password: string): Buffer {
    return createHash("sha256")
      .update(this.#key)
      .update(key)
      .update("\0")
      .update(password)
      .digest();
  }
}

function verdictOf(run: ChildResult): PamVerdict {
  switch (run.kind) {
    case "busy":
      return { result: "error", detail: "too many PAM checks in progress (pool and queue full)" };
    case "timeout":
      return { result: "error", detail: "PAM did not answer before the deadline; killed" };
    case "failed":
      return { result: "error", detail: `pamtester could not run: ${run.message}` };
    case "exited": {
      if (run.code === 0) return { result: "success" };
      const line = lastLine(run.stderr) || `pamtester exited with ${run.code}`;
      return SYSTEM_ERRORS.test(run.stderr)
        ? { result: "error", detail: line }
        : { result: "denied", detail: line };
    }
  }
}

function lastLine(text: string): string {
  const lines = text
    .split("\n")
    .map((l) => l.replace(/^.*pamtester: /, "").trim())
    .filter((l) => l.length > 0);
  return (lines.at(-1) ?? "").slice(0, 200);
}

/** verify_service: refuse to start when a service the config uses has no /etc/pam.d file. */
export function verifyPamServices(services: readonly string[], pamDir = "/etc/pam.d"): void {
  for (const service of services) {
    const file = join(pamDir, service);
    if (!existsSync(file)) {
      throw new RelayError(
        "RELAY_E_CONFIG",
        `auth.pam: PAM service "${service}" has no file ${file} (verify_service = true); install it or set verify_service = false`,
      );
    }
  }
}
