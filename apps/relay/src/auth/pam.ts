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
  /** How long an allowed check is remembered; 0: never. */
  cacheTtlMs: number;
}

/** Debian's pamtester, which every PAM check runs. */
export const PAMTESTER = "/usr/bin/pamtester";

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
    return this.#remembered(`u\0${username}\0${rhost}`, password, () =>
      this.#check({
        service: this.settings.usernameService,
        user: username,
        ruser: username,
        rhost,
        password,
      }),
    );
  }

  /** pam.address: the client address alone, as `default_user`, through `address_service`. */
  verifyAddress(rhost: string): Promise<PamVerdict> {
    return this.#remembered(`a\0${rhost}`, "", () =>
      this.#check({
        service: this.settings.addressService,
        user: this.settings.defaultUser,
        ruser: this.settings.defaultRuser,
        rhost,
        password: "",
      }),
    );
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
    return verdictOf(await this.pool.run(PAMTESTER, args, stdin));
  }

  /** A success remembered under `key` for this `secret` (as a keyed digest), else `check()`. */
  async #remembered(
    key: string,
    secret: string,
    check: () => Promise<PamVerdict>,
  ): Promise<PamVerdict> {
    const digest = this.#digest(key, secret);
    const cached = this.#cache.get(key);
    if (cached && timingSafeEqual(cached, digest)) return { result: "success" };
    const verdict = await check();
    if (verdict.result === "success" && this.settings.cacheTtlMs > 0) this.#cache.set(key, digest);
    return verdict;
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
