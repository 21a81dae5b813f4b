import { encodeUserPassReply, Reply, type SocksAddress } from "@edgesocks/socks";
import { type PamVerdict, pamRhost } from "../auth/pam";
import type { ClientSession } from "./client-session";

/**
 * The handshake's steps that ask the system rather than the policy: PAM
 * (pam.address before the greeting, pam.username for RFC 1929 credentials) and
 * the user's groups from the directory. Each runs in a child process, so the
 * session waits in "busy" and other clients are not held up.
 */

export type AuthResult = "success" | "failure" | "error";

/** pam.address: the client's address alone decides whether its greeting is read at all. */
export function onClientAddress(session: ClientSession): void {
  session.state = "busy";
  session.client.pause();
  checkClientAddress(session).catch((error: unknown) => session.internalError(error));
}

async function checkClientAddress(session: ClientSession): Promise<void> {
  const { backoff } = session.deps;
  const { auth } = session;
  const key = `ip:${session.clientAddress}`;
  const holdMs = backoff.delayBefore(key);
  if (holdMs > 0) await new Promise((resolve) => setTimeout(resolve, holdMs).unref());
  if (session.closed) return;
  const verdict = await auth.addressPam!.verifyAddress(pamRhost(session.clientAddress));
  if (session.closed) return;
  const result = report(session, "pam.address", verdict);
  if (result === "success") {
    backoff.succeed(key);
    session.resume("greeting");
    return;
  }
  if (result === "failure") backoff.fail(key);
  // No SOCKS version is known yet, so there is no reply to give: the connection closes.
  session.refuse(null, result === "error" ? "auth_error" : "auth_failed", "auth_failed");
}

/** pam.username: the RFC 1929 credentials, checked by the configured PAM service. */
export async function verifyWithPam(
  session: ClientSession,
  username: string,
  password: string,
): Promise<AuthResult> {
  // A user the policy lists as disabled stays out whatever PAM would say.
  const verdict: PamVerdict =
    session.policy.users.get(username)?.enabled === false
      ? { result: "denied", detail: "disabled in the policy" }
      : await session.auth.passwordPam!.verifyPassword(
          username,
          password,
          pamRhost(session.clientAddress),
        );
  return report(session, "pam.username", verdict, username);
}

/**
 * group_source = "nss": the authenticated user's groups from the system, narrowed to
 * the groups the policy defines. A lookup that fails refuses the login: a
 * group's block rule must not be skipped because the directory was away.
 */
export async function withDirectoryGroups(
  session: ClientSession,
  /** What a refused client is told: the RFC 1929 failure, or a request's failure code. */
  refusal: Buffer | number = encodeUserPassReply(false),
): Promise<boolean> {
  const directory = session.auth.groups;
  if (!directory) return true;
  const lookup = await directory.lookup(session.user);
  if (session.closed) return false;
  if (!lookup.ok) {
    session.deps.logger.warn(
      { user: session.user, client: session.clientAddress, reason: lookup.reason },
      "login refused: the user's groups could not be read from the system (auth.group_source = nss)",
    );
    session.refuse(refusal, "auth_error:groups_unavailable", "auth_failed");
    return false;
  }
  session.groups = session.policy.acl.policyGroups(lookup.groups);
  return true;
}

/**
 * A request from a client its transport identified (mutual TLS) runs once its
 * directory groups are known; every other request runs at once (password
 * logins looked theirs up when they authenticated).
 */
export function dispatchIdentified(
  session: ClientSession,
  command: "connect" | "bind" | "udp",
  address: SocksAddress,
  port: number,
): void {
  if (!session.auth.groups || !session.presetUser || session.groups !== undefined) {
    session.dispatch(command, address, port);
    return;
  }
  session.state = "busy";
  session.client.pause();
  withDirectoryGroups(session, Reply.NotAllowed)
    .then((ok) => {
      if (ok) session.dispatch(command, address, port);
    })
    .catch((error: unknown) => session.internalError(error));
}

function report(
  session: ClientSession,
  method: "pam.address" | "pam.username",
  verdict: PamVerdict,
  user?: string,
): AuthResult {
  const { metrics, logger } = session.deps;
  const { auth } = session;
  const result = verdict.result === "denied" ? "failure" : verdict.result;
  metrics.auth.inc({ method, result });
  const fields = { method, client: session.clientAddress, ...(user ? { user } : {}) };
  if (verdict.result === "error") {
    logger.warn({ ...fields, detail: verdict.detail }, "PAM could not answer; login refused");
  } else if (auth.verbose) {
    logger.info(
      verdict.result === "denied" ? { ...fields, detail: verdict.detail } : fields,
      verdict.result === "denied" ? "PAM refused" : "PAM allowed",
    );
  }
  return result;
}
