import { encodeGssapiMessage, type GssapiMessage, GssapiMessageType } from "@edgesocks/socks";
import type { GssapiBackend } from "../auth/gssapi/gssapi-backend";
import type { ClientSession } from "./client-session";
import { withDirectoryGroups } from "./enterprise-auth";

/**
 * SOCKS5 method 0x01 (RFC 1961) on the relay's side: context tokens until
 * the context is established, then the protection-level message. Only Dante's
 * NEC clear mode follows it (the level in clear, answered with 0: no
 * per-message protection), which is what curl speaks; a client that asks for
 * RFC 1961 encapsulation is refused with an abort rather than served without it.
 */

const ABORT = encodeGssapiMessage(GssapiMessageType.Abort);
/** The NEC answer: protection level 0, no per-message protection. */
const CLEAR_LEVEL = encodeGssapiMessage(GssapiMessageType.Protection, Buffer.from([0]));

export function onGssapiMessage(session: ClientSession, message: GssapiMessage): void {
  const gssapi = session.auth.gssapi!;
  if (message.type === GssapiMessageType.Abort) {
    fail(
      session,
      gssapi,
      "failure",
      "the client aborted the GSS-API exchange",
      "auth_failed:gssapi_client_abort",
    );
    return;
  }
  if (session.state === "gssapi") onContextToken(session, gssapi, message);
  else onProtectionLevel(session, gssapi, message);
}

function onContextToken(
  session: ClientSession,
  gssapi: GssapiBackend,
  message: GssapiMessage,
): void {
  if (message.type !== GssapiMessageType.Authentication) {
    session.refuse(ABORT, "protocol_error:gssapi_unexpected_message", "protocol_error");
    return;
  }
  session.gss ??= gssapi.acceptor.context();
  let step: ReturnType<typeof session.gss.step>;
  try {
    step = session.gss.step(message.token);
  } catch (error) {
    // A ticket for another service, an expired or replayed one, a wrong key.
    fail(session, gssapi, "failure", (error as Error).message, "auth_failed");
    return;
  }
  if (step.output.length > 0)
    session.write(encodeGssapiMessage(GssapiMessageType.Authentication, step.output));
  if (!step.complete) return;
  const principal = session.gss.sourceName ?? "";
  session.principal = principal;
  session.user = gssapi.userOf(principal);
  session.state = "gssapi-protection";
}

function onProtectionLevel(
  session: ClientSession,
  gssapi: GssapiBackend,
  message: GssapiMessage,
): void {
  if (message.type !== GssapiMessageType.Protection) {
    session.refuse(ABORT, "protocol_error:gssapi_unexpected_message", "protocol_error");
    return;
  }
  // NEC clients send the one-octet level as it is; RFC 1961 clients send a wrap token.
  if (message.token.length !== 1 || !gssapi.necClearMode) {
    session.deps.logger.warn(
      { client: session.clientAddress, user: session.user },
      "GSS-API client asked for RFC 1961 per-message protection, which this relay does not provide; refused (only the NEC clear mode is served)",
    );
    fail(
      session,
      gssapi,
      "failure",
      "per-message protection requested",
      "gssapi_protection_unsupported",
    );
    return;
  }
  if (session.policy.users.get(session.user)?.enabled === false) {
    fail(session, gssapi, "failure", "disabled in the policy", "auth_failed");
    return;
  }
  report(session, gssapi, "success");
  // Clear mode: nothing is wrapped after this, the context is no longer needed.
  session.gss?.delete();
  session.gss = null;
  session.state = "busy";
  session.client.pause();
  withDirectoryGroups(session, ABORT)
    .then((ok) => {
      if (!ok) return;
      session.write(CLEAR_LEVEL);
      session.resume("request");
    })
    .catch((error: unknown) => session.internalError(error));
}

function fail(
  session: ClientSession,
  gssapi: GssapiBackend,
  result: "failure" | "error",
  detail: string,
  reason: string,
): void {
  report(session, gssapi, result, detail);
  if (result === "failure") session.deps.backoff.fail(`ip:${session.clientAddress}`);
  session.refuse(ABORT, reason, reason.startsWith("auth_failed") ? "auth_failed" : reason);
}

function report(
  session: ClientSession,
  gssapi: GssapiBackend,
  result: "success" | "failure" | "error",
  detail?: string,
): void {
  const { metrics, logger } = session.deps;
  metrics.auth.inc({ method: "gssapi", result });
  const fields = {
    method: "gssapi",
    client: session.clientAddress,
    ...(session.principal ? { principal: session.principal, user: session.user } : {}),
  };
  if (result === "success") {
    if (gssapi.verbose) logger.info(fields, "GSS-API login accepted");
  } else {
    // Failures are what an operator looks for (a wrong keytab, clock skew): always logged.
    logger.warn({ ...fields, detail }, "GSS-API login refused");
  }
}
