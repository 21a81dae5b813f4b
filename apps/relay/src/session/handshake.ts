import {
  AuthMethod,
  type Decoded,
  decodeGreeting,
  decodeGssapiMessage,
  decodeRequest,
  decodeSocks4Request,
  decodeUserPassRequest,
  encodeGssapiMessage,
  encodeMethodSelection,
  encodeUserPassReply,
  GssapiMessageType,
  Reply,
  type Request,
  type Socks4Request,
} from "@edgesocks/socks";
import type { ClientSession, SessionState } from "./client-session";
import {
  type AuthResult,
  dispatchIdentified,
  onClientAddress,
  verifyWithPam,
  withDirectoryGroups,
} from "./enterprise-auth";
import { onGssapiMessage } from "./gssapi-auth";

/**
 * The SOCKS4/4a/5 handshake as a buffered state machine over the session's
 * bytes: a greeting split over many reads and a greeting, request and first
 * data pipelined in one read both work. It ends in `session.dispatch()` with
 * a complete request. A new authentication method is one more state here.
 */

/** No valid handshake message is longer; more unparsed bytes than this is abuse. */
const MAX_HANDSHAKE_BYTES = 1024;
/** Kerberos tickets carrying a large PAC (Active Directory) run to many kilobytes. */
const MAX_GSSAPI_MESSAGE_BYTES = 4 + 0xffff;

/** Parses what the session holds, as far as it goes. */
export function advanceHandshake(session: ClientSession): void {
  while (session.buffer && session.buffer.length > 0) {
    const buffer = session.buffer;
    switch (session.state) {
      case "address":
        onClientAddress(session);
        return;
      case "greeting":
        if (buffer[0] === 5) {
          session.protocol = "socks5";
          const greeting = decodeGreeting(buffer);
          if (!consume(session, greeting)) return;
          onGreeting(session, greeting.value.methods);
        } else if (buffer[0] === 4) {
          session.protocol = "socks4";
          const request = decodeSocks4Request(buffer);
          if (!consume(session, request)) return;
          onSocks4Request(session, request.value);
        } else {
          session.refuse(
            null,
            `protocol_error:SOCKS_E_BAD_VERSION (first byte ${buffer[0]})`,
            "protocol_error",
          );
          return;
        }
        break;
      case "auth": {
        const credentials = decodeUserPassRequest(buffer);
        if (!consume(session, credentials)) return;
        onUserPass(session, credentials.value.username, credentials.value.password);
        break;
      }
      case "gssapi":
      case "gssapi-protection": {
        const message = decodeGssapiMessage(buffer);
        if (!consume(session, message)) return;
        onGssapiMessage(session, message.value);
        break;
      }
      case "request": {
        const request = decodeRequest(buffer);
        if (!consume(session, request)) return;
        onRequest(session, request.value);
        break;
      }
      default:
        // busy: an async step owns the buffer until it resumes parsing
        return;
    }
    if (!parsing(session.state)) return;
  }
}

/** Whether the handshake still parses: not waiting on an async step, relaying or closed. */
function parsing(state: SessionState): boolean {
  return (
    state === "address" ||
    state === "greeting" ||
    state === "auth" ||
    state === "gssapi" ||
    state === "gssapi-protection" ||
    state === "request"
  );
}

/**
 * Takes one decoded message off the buffer; false (and the refusal, if the
 * message is malformed or too long) when parsing must stop for now.
 */
function consume<T>(
  session: ClientSession,
  decoded: Decoded<T>,
): decoded is Extract<Decoded<T>, { status: "ok" }> {
  if (decoded.status === "incomplete") {
    const gssapi = session.state === "gssapi" || session.state === "gssapi-protection";
    if (
      session.buffer &&
      session.buffer.length > (gssapi ? MAX_GSSAPI_MESSAGE_BYTES : MAX_HANDSHAKE_BYTES)
    ) {
      session.refuse(
        session.state === "greeting" ? null : Reply.GeneralFailure,
        "protocol_error:handshake_too_long",
        "protocol_error",
      );
    }
    return false;
  }
  if (decoded.status === "invalid") {
    const reason = `protocol_error:${decoded.error.code}`;
    // RFC 1929: any status but 0 is a failure, then the server closes.
    if (session.state === "auth")
      session.refuse(encodeUserPassReply(false), reason, "protocol_error");
    else if (session.state === "gssapi" || session.state === "gssapi-protection")
      session.refuse(encodeGssapiMessage(GssapiMessageType.Abort), reason, "protocol_error");
    // A malformed SOCKS5 greeting gets no reply (there is no field for one),
    // except one offering no methods: RFC 1928 answers that with 0xFF.
    // A malformed request gets the code the codec chose, e.g. 0x07 or 0x08.
    else if (session.state === "greeting" && session.protocol === "socks5")
      session.refuse(
        decoded.error.code === "SOCKS_E_NO_METHODS"
          ? encodeMethodSelection(AuthMethod.NoAcceptable)
          : null,
        reason,
        "protocol_error",
      );
    else session.refuse(decoded.error.reply ?? Reply.GeneralFailure, reason, "protocol_error");
    return false;
  }
  const buffer = session.buffer!;
  session.buffer = buffer.length > decoded.length ? buffer.subarray(decoded.length) : null;
  return true;
}

/**
 * Fleet mode, a method the host cannot run: every client is refused, as RFC 1928 refuses a
 * client no method suits (SOCKS4: request rejected). No other method is offered instead.
 */
function refuseUnavailable(session: ClientSession): boolean {
  if (session.auth.unavailable === undefined) return false;
  session.refuse(
    session.protocol === "socks5"
      ? encodeMethodSelection(AuthMethod.NoAcceptable)
      : Reply.NotAllowed,
    "auth_unavailable",
    "auth_unavailable",
  );
  return true;
}

function onGreeting(session: ClientSession, offered: readonly number[]): void {
  if (refuseUnavailable(session)) return;
  // A client that mutual TLS already identified needs no second credential.
  // GSS-API is the relay's own method (from its keytab), not the policy's.
  const own = session.auth.gssapi ? [AuthMethod.Gssapi] : session.policy.methods;
  const methods = session.presetUser ? [AuthMethod.None, ...own] : own;
  const method = methods.find((m) => offered.includes(m));
  if (method === undefined) {
    session.refuse(
      encodeMethodSelection(AuthMethod.NoAcceptable),
      "no_acceptable_auth_method",
      "no_acceptable_method",
    );
    return;
  }
  session.write(encodeMethodSelection(method));
  session.state =
    method === AuthMethod.UserPass ? "auth" : method === AuthMethod.Gssapi ? "gssapi" : "request";
}

function onUserPass(session: ClientSession, username: string, password: string): void {
  session.state = "busy";
  session.client.pause();
  verifyUserPass(session, username, password).catch((error: unknown) =>
    session.internalError(error),
  );
}

async function verifyUserPass(
  session: ClientSession,
  username: string,
  password: string,
): Promise<void> {
  const { credentials, backoff, metrics } = session.deps;
  const { auth } = session;
  const keys = [`ip:${session.clientAddress}`, `user:${username}`];
  // An address or username that keeps failing waits before its password is
  // even checked, right or wrong: guessing right cannot skip the wait, and
  // argon2 (or PAM) runs at the back-off's pace, not at the pace of a flood.
  const holdMs = backoff.delayBefore(...keys);
  if (holdMs > 0) await new Promise((resolve) => setTimeout(resolve, holdMs).unref());
  if (session.closed) return;
  let result: AuthResult;
  if (auth.passwordPam) {
    result = await verifyWithPam(session, username, password);
  } else {
    const ok = await credentials.verify(session.policy.users.get(username), password);
    result = ok ? "success" : "failure";
    metrics.auth.inc({ method: "userpass", result });
  }
  if (session.closed) return;
  session.user = username;
  if (result === "success") {
    backoff.succeed(keys[0]!);
    if (!(await withDirectoryGroups(session))) return;
    session.write(encodeUserPassReply(true));
    session.resume("request");
    return;
  }
  // A backend that could not answer (PAM timed out, its pool was full) is not the client's fault.
  if (result === "failure") backoff.fail(...keys);
  session.refuse(
    encodeUserPassReply(false),
    result === "error" ? "auth_error" : "auth_failed",
    "auth_failed",
  );
}

function onSocks4Request(session: ClientSession, request: Socks4Request): void {
  session.protocol = request.address.type === "domain" ? "socks4a" : "socks4";
  session.command = request.command;
  session.destinationHost = request.address.host;
  session.destinationPort = request.port;
  if (refuseUnavailable(session)) return;
  if (session.policy.requiresPassword && !session.presetUser) {
    // SOCKS4 has no password exchange; a relay that requires one never lets it through.
    session.refuse(Reply.NotAllowed, "auth_required", "auth_required");
    return;
  }
  dispatchIdentified(session, request.command, request.address, request.port);
}

function onRequest(session: ClientSession, request: Request): void {
  const command = request.command === "udp-associate" ? "udp" : request.command;
  session.command = command;
  session.destinationHost = request.address.host;
  session.destinationPort = request.port;
  dispatchIdentified(session, command, request.address, request.port);
}
