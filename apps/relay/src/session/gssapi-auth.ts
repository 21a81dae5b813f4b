import { encodeGssapiMessage, type GssapiMessage, GssapiMessageType } from "@edgesocks/socks";
import type { GssContext } from "../auth/gssapi/gss-acceptor";
import type { GssapiBackend } from "../auth/gssapi/gssapi-backend";
import { chooseProtectionLevel, type ProtectionLevel } from "../auth/gssapi/protection-level";
import type { ClientSession } from "./client-session";
import { withDirectoryGroups } from "./enterprise-auth";
import { GssapiClientCodec } from "./gssapi-codec";

/**
 * SOCKS5 method 0x01 (RFC 1961) on the relay's side: context tokens until
 * the context is established, then the protection-level subnegotiation
 * (§4). An RFC 1961 client sends its level wrapped and gets the answer
 * wrapped; a NEC client (nec_clear_mode, what curl speaks) sends and gets it
 * in clear. The relay grants the lower of the request and its ceiling
 * (protection-level.ts); at level 1-3 every later message of the session is
 * encapsulated (gssapi-codec.ts), at level 0 nothing is.
 */

const ABORT = encodeGssapiMessage(GssapiMessageType.Abort);
/** A krb5 wrap token is never a single byte: a one-byte level is the NEC form. */
const NEC_LEVEL_BYTES = 1;

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
  const context = session.gss!;
  const wrapped = message.token.length !== NEC_LEVEL_BYTES;
  if (!wrapped && !gssapi.necClearMode) {
    fail(
      session,
      gssapi,
      "failure",
      "the client sent its protection level in clear (NEC mode); auth.gssapi.nec_clear_mode is false",
      "gssapi_nec_mode_disabled",
    );
    return;
  }
  let requested: number;
  if (wrapped) {
    let unwrapped: Buffer;
    try {
      unwrapped = context.unwrap(message.token).message;
    } catch (error) {
      fail(session, gssapi, "failure", (error as Error).message, "gssapi_bad_level_token");
      return;
    }
    requested = unwrapped.length === 1 ? unwrapped[0]! : -1;
  } else requested = message.token[0]!;
  const choice = chooseProtectionLevel({
    requested,
    max: gssapi.maxLevel,
    contextFlags: context.flags,
    wrapped,
  });
  if (!choice.ok) {
    fail(session, gssapi, "failure", choice.detail, choice.reason);
    return;
  }
  if (session.policy.users.get(session.user)?.enabled === false) {
    fail(session, gssapi, "failure", "disabled in the policy", "auth_failed");
    return;
  }
  const level = choice.level;
  let answer: Buffer;
  try {
    // RFC 1961 §4.4: the level octet is wrapped with conf_req = false, whatever the level.
    answer = encodeGssapiMessage(
      GssapiMessageType.Protection,
      wrapped ? context.wrap(Buffer.from([level]), false) : Buffer.from([level]),
    );
  } catch (error) {
    fail(session, gssapi, "error", (error as Error).message, "gssapi_wrap_failed");
    return;
  }
  report(session, gssapi, "success", undefined, level);
  if (level === 0) {
    // Clear mode: nothing is wrapped after this, the context is no longer needed.
    context.delete();
    session.gss = null;
  }
  session.state = "busy";
  session.client.pause();
  withDirectoryGroups(session, ABORT)
    .then((ok) => {
      if (!ok) return;
      session.write(answer);
      if (level !== 0) session.encapsulate(encapsulation(session, context, level));
      session.resume("request");
    })
    .catch((error: unknown) => session.internalError(error));
}

function encapsulation(
  session: ClientSession,
  context: GssContext,
  level: 1 | 2 | 3,
): GssapiClientCodec {
  const { metrics } = session.deps;
  return new GssapiClientCodec({
    context,
    level,
    onBadFrame: (reason) => metrics.gssapiBadFrames.inc({ reason }),
  });
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
  level?: ProtectionLevel,
): void {
  const { metrics, logger } = session.deps;
  metrics.auth.inc({ method: "gssapi", result });
  const fields = {
    method: "gssapi",
    client: session.clientAddress,
    ...(session.principal ? { principal: session.principal, user: session.user } : {}),
    ...(level !== undefined ? { protectionLevel: level } : {}),
  };
  if (result === "success") {
    if (gssapi.verbose) logger.info(fields, "GSS-API login accepted");
  } else {
    // Failures are what an operator looks for (a wrong keytab, clock skew): always logged.
    logger.warn({ ...fields, detail }, "GSS-API login refused");
  }
}
