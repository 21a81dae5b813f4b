import type { RouteHop } from "@edgesocks/policy";
import {
  AuthMethod,
  decodeHttpConnectResponse,
  decodeMethodSelection,
  decodeReply,
  decodeSocks4Reply,
  decodeUserPassReply,
  encodeGreeting,
  encodeHttpConnect,
  encodeRequest,
  encodeSocks4Request,
  encodeUserPassRequest,
  Reply,
  Socks4Reply,
  type SocksAddress,
} from "@edgesocks/socks";
import type { HandshakeIo, ReadResult } from "./handshake-io";

/** Where a hop is asked to connect: the next hop, or the destination after the last hop. */
export interface HopTarget {
  address: SocksAddress;
  port: number;
}

/** What the last hop is asked to do: CONNECT to the target, or BIND for a peer from it. */
export type HopCommand = "connect" | "bind";

/** A hop's successful reply: the address it connected from, or (BIND) listens on. */
export interface HopBound {
  host: string;
  port: number;
}

/**
 * What went wrong at one hop. `auth`, `protocol` and `closed` are this hop's own failure;
 * `refused` means the hop answered that it could not reach the target (carrying the SOCKS5
 * reply to give the client when the target was the destination).
 */
export type HopOutcome =
  | { ok: true; bound: HopBound }
  | { ok: false; kind: "auth" | "protocol" | "closed"; detail: string }
  | { ok: false; kind: "refused"; reply: number; detail: string };

/**
 * Runs one hop's handshake on a connection to it, asking it to connect on to `target` (or, with
 * `command` "bind", to listen for a peer from it: the outcome is then its first reply).
 */
export function negotiateHop(
  io: HandshakeIo,
  hop: RouteHop,
  target: HopTarget,
  command: HopCommand = "connect",
): Promise<HopOutcome> {
  switch (hop.type) {
    case "socks5":
      return negotiateSocks5(io, hop, target, command);
    case "socks4a":
      return socks4a(io, hop, target, command);
    case "http":
      if (command === "bind") {
        return Promise.resolve({
          ok: false,
          kind: "refused",
          reply: Reply.CommandNotSupported,
          detail: "HTTP CONNECT cannot BIND",
        });
      }
      return httpConnect(io, hop, target);
  }
}

/** A SOCKS5 BIND's second reply: the peer that connected to the hop. */
export async function readSocks5Reply(io: HandshakeIo): Promise<HopOutcome> {
  const reply = await io.read(decodeReply);
  if (!reply.ok) return lost(reply);
  return socks5Outcome(reply.value.reply, reply.value.address.host, reply.value.port);
}

/** A SOCKS4 BIND's second reply: the peer that connected to the hop. */
export async function readSocks4Reply(io: HandshakeIo): Promise<HopOutcome> {
  const reply = await io.read(decodeSocks4Reply);
  if (!reply.ok) return lost(reply);
  return socks4Outcome(reply.value);
}

function socks5Outcome(code: number, host: string, port: number): HopOutcome {
  if (code === Reply.Succeeded) return { ok: true, bound: { host, port } };
  return {
    ok: false,
    kind: "refused",
    reply: code >= 1 && code <= 8 ? code : Reply.GeneralFailure,
    detail: `reply 0x${code.toString(16).padStart(2, "0")}`,
  };
}

function socks4Outcome(reply: { reply: number; host: string; port: number }): HopOutcome {
  const code = reply.reply;
  if (code === Socks4Reply.Granted)
    return { ok: true, bound: { host: reply.host, port: reply.port } };
  if (code === Socks4Reply.NoIdentd || code === Socks4Reply.IdentMismatch) {
    return { ok: false, kind: "auth", detail: `identd reply 0x${code.toString(16)}` };
  }
  return {
    ok: false,
    kind: "refused",
    reply: Reply.GeneralFailure,
    detail: `reply 0x${code.toString(16)}`,
  };
}

function lost(result: ReadResult<unknown> & { ok: false }): HopOutcome {
  if (result.kind === "protocol") return { ok: false, kind: "protocol", detail: result.message };
  return { ok: false, kind: "closed", detail: result.kind === "error" ? result.code : "closed" };
}

/** A SOCKS5 hop's greeting, credentials and request (UDP ASSOCIATE too: only SOCKS5 has it). */
export async function negotiateSocks5(
  io: HandshakeIo,
  hop: Extract<RouteHop, { type: "socks5" }>,
  target: HopTarget,
  command: HopCommand | "udp-associate",
): Promise<HopOutcome> {
  const credentials = hop.username !== undefined && hop.password !== undefined;
  // Only the method this hop is configured for: a hop with credentials must not be let in
  // without them, as that would hide a parent that stopped checking.
  io.send(encodeGreeting({ methods: [credentials ? AuthMethod.UserPass : AuthMethod.None] }));
  const selection = await io.read(decodeMethodSelection);
  if (!selection.ok) return lost(selection);
  const method = selection.value.method;
  if (credentials && method === AuthMethod.UserPass) {
    io.send(encodeUserPassRequest({ username: hop.username!, password: hop.password! }));
    const answer = await io.read(decodeUserPassReply);
    if (!answer.ok) return lost(answer);
    if (!answer.value.ok) return { ok: false, kind: "auth", detail: "username/password refused" };
  } else if (method !== AuthMethod.None || credentials) {
    return {
      ok: false,
      kind: "auth",
      detail: `method 0x${method.toString(16).padStart(2, "0")} selected (offered ${credentials ? "username/password" : "none"})`,
    };
  }
  io.send(encodeRequest({ command, address: target.address, port: target.port }));
  return readSocks5Reply(io);
}

async function socks4a(
  io: HandshakeIo,
  hop: Extract<RouteHop, { type: "socks4a" }>,
  target: HopTarget,
  command: HopCommand,
): Promise<HopOutcome> {
  if (target.address.type === "ipv6") {
    return {
      ok: false,
      kind: "refused",
      reply: Reply.AddressTypeNotSupported,
      detail: "SOCKS4a cannot carry IPv6",
    };
  }
  io.send(
    encodeSocks4Request({
      command,
      port: target.port,
      address: target.address,
      userId: hop.userId ?? "",
    }),
  );
  return readSocks4Reply(io);
}

/** An HTTP proxy's refusal as the SOCKS5 reply closest to it. */
function replyForStatus(status: number): number {
  if (status === 403) return Reply.NotAllowed;
  if (status === 502) return Reply.HostUnreachable;
  if (status === 504) return Reply.TtlExpired;
  return Reply.GeneralFailure;
}

async function httpConnect(
  io: HandshakeIo,
  hop: Extract<RouteHop, { type: "http" }>,
  target: HopTarget,
): Promise<HopOutcome> {
  io.send(
    encodeHttpConnect({
      host: target.address.host,
      port: target.port,
      credentials:
        hop.username !== undefined && hop.password !== undefined
          ? { username: hop.username, password: hop.password }
          : undefined,
    }),
  );
  const response = await io.read(decodeHttpConnectResponse);
  if (!response.ok) return lost(response);
  const { status, reason } = response.value;
  // An HTTP proxy does not say where it connected from.
  if (status >= 200 && status < 300) return { ok: true, bound: { host: "0.0.0.0", port: 0 } };
  const detail = `HTTP ${status}${reason ? ` ${reason}` : ""}`;
  if (status === 407) return { ok: false, kind: "auth", detail };
  return { ok: false, kind: "refused", reply: replyForStatus(status), detail };
}
