import { connect, type Socket } from "node:net";
import { Reply } from "@edgesocks/socks";
import { InPlaceReads } from "./in-place-reads";
import type { ResolvedAddress } from "./resolver";

export type UpstreamResult =
  | { ok: true; socket: Socket; address: ResolvedAddress; connectMs: number }
  | { ok: false; reply: number; code: string };

export interface ConnectOptions {
  port: number;
  /** Budget for all attempts together. */
  timeoutMs: number;
  /** Source address for outgoing connections, when the operator pins one. */
  localAddress?: string;
}

/** Tries each address in turn until one accepts or the budget is spent. */
export async function connectUpstream(
  addresses: readonly ResolvedAddress[],
  options: ConnectOptions,
): Promise<UpstreamResult> {
  const deadline = performance.now() + options.timeoutMs;
  let last: UpstreamResult = { ok: false, reply: Reply.HostUnreachable, code: "ENOADDRESS" };
  for (const address of addresses) {
    const remaining = deadline - performance.now();
    if (remaining <= 0) return { ok: false, reply: Reply.TtlExpired, code: "ETIMEDOUT" };
    last = await attempt(address, options, remaining);
    if (last.ok) return last;
  }
  return last;
}

function attempt(
  target: ResolvedAddress,
  options: ConnectOptions,
  timeoutMs: number,
): Promise<UpstreamResult> {
  const started = performance.now();
  return new Promise((resolve) => {
    const reads = new InPlaceReads();
    const socket = connect({
      host: target.address,
      port: options.port,
      family: target.family,
      allowHalfOpen: true,
      noDelay: true,
      onread: reads.onread,
      ...(options.localAddress ? { localAddress: options.localAddress } : {}),
    });
    reads.adopt(socket);
    const timer = setTimeout(() => {
      socket.destroy();
      resolve({ ok: false, reply: Reply.TtlExpired, code: "ETIMEDOUT" });
    }, timeoutMs);
    socket.once("connect", () => {
      clearTimeout(timer);
      socket.removeAllListeners("error");
      resolve({ ok: true, socket, address: target, connectMs: performance.now() - started });
    });
    socket.once("error", (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      socket.destroy();
      const code = error.code ?? "EUNKNOWN";
      resolve({ ok: false, reply: replyForErrno(code), code });
    });
  });
}

/** Maps a connect errno to the SOCKS5 reply RFC 1928 has for it. */
export function replyForErrno(code: string): number {
  switch (code) {
    case "ECONNREFUSED":
      return Reply.ConnectionRefused;
    case "EHOSTUNREACH":
    case "EHOSTDOWN":
    case "ENOTFOUND":
    case "EAI_AGAIN":
    case "ENODATA":
      return Reply.HostUnreachable;
    case "ENETUNREACH":
    case "ENETDOWN":
    case "EADDRNOTAVAIL":
      return Reply.NetworkUnreachable;
    case "ETIMEDOUT":
    case "ETIMEOUT":
      return Reply.TtlExpired;
    case "EACCES":
    case "EPERM":
      return Reply.NotAllowed;
    default:
      return Reply.GeneralFailure;
  }
}
