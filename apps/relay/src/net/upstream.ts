import { connect, type Socket } from "node:net";
import { Reply } from "@edgesocks/socks";
import { InPlaceReads } from "./in-place-reads";
import type { ResolvedAddress } from "./resolver";

export type UpstreamResult =
  | { ok: true; socket: Socket; address: ResolvedAddress; connectMs: number }
  | { ok: false; reply: number; code: string };

export interface ConnectOptions {
  port: number;
  /** Budget for all attempts together (ms). */
  timeoutMs: number;
  /**
   * How long an attempt runs alone before the next address is tried beside it
   * (RFC 8305 §5 "Connection Attempt Delay"); never more than the budget's
   * share per address, so every address is tried within the budget.
   * @default 250 (ms)
   */
  attemptDelayMs?: number;
}

/** RFC 8305 §5 recommends 250 ms. */
const ATTEMPT_DELAY_MS = 250;

/**
 * Happy Eyeballs (RFC 8305) over addresses the caller has already checked:
 * families interleaved, a new attempt every `attemptDelayMs` or as soon as
 * one fails, the first to connect wins and the others are dropped. An
 * unreachable AAAA therefore costs the A record a quarter of a second, not
 * the whole budget. Only the given addresses are ever connected to.
 */
export function connectUpstream(
  addresses: readonly ResolvedAddress[],
  options: ConnectOptions,
): Promise<UpstreamResult> {
  const ordered = interleaveFamilies(addresses);
  if (ordered.length === 0) {
    return Promise.resolve({ ok: false, reply: Reply.HostUnreachable, code: "ENOADDRESS" });
  }
  const delayMs = Math.min(
    options.attemptDelayMs ?? ATTEMPT_DELAY_MS,
    options.timeoutMs / ordered.length,
  );
  const started = performance.now();
  return new Promise((resolve) => {
    const attempts = new Set<Socket>();
    let next = 0;
    let settled = false;
    let lastFailure: UpstreamResult = { ok: false, reply: Reply.TtlExpired, code: "ETIMEDOUT" };
    let stagger: NodeJS.Timeout | undefined;
    const finish = (result: UpstreamResult) => {
      settled = true;
      clearTimeout(stagger);
      clearTimeout(budget);
      for (const socket of attempts) socket.destroy();
      attempts.clear();
      resolve(result);
    };
    const budget = setTimeout(
      () => finish({ ok: false, reply: Reply.TtlExpired, code: "ETIMEDOUT" }),
      options.timeoutMs,
    );
    const startNext = () => {
      clearTimeout(stagger);
      const target = ordered[next++];
      if (settled || !target) return;
      const socket = open(target, options);
      attempts.add(socket);
      if (next < ordered.length) stagger = setTimeout(startNext, delayMs);
      socket.once("connect", () => {
        attempts.delete(socket);
        socket.removeAllListeners("error");
        finish({ ok: true, socket, address: target, connectMs: performance.now() - started });
      });
      socket.once("error", (error: NodeJS.ErrnoException) => {
        attempts.delete(socket);
        socket.destroy();
        const code = error.code ?? "EUNKNOWN";
        lastFailure = { ok: false, reply: replyForErrno(code), code };
        if (settled) return;
        if (next < ordered.length) startNext();
        else if (attempts.size === 0) finish(lastFailure);
      });
    };
    startNext();
  });
}

function open(target: ResolvedAddress, options: ConnectOptions): Socket {
  const reads = new InPlaceReads();
  const socket = connect({
    host: target.address,
    port: options.port,
    family: target.family,
    allowHalfOpen: true,
    noDelay: true,
    onread: reads.onread,
  });
  reads.adopt(socket);
  return socket;
}

/** RFC 8305 §4: alternate the families, starting with the family of the first address. */
export function interleaveFamilies(addresses: readonly ResolvedAddress[]): ResolvedAddress[] {
  const first = addresses[0]?.family;
  const primary = addresses.filter((a) => a.family === first);
  const secondary = addresses.filter((a) => a.family !== first);
  const ordered: ResolvedAddress[] = [];
  for (let i = 0; i < Math.max(primary.length, secondary.length); i++) {
    if (primary[i]) ordered.push(primary[i]!);
    if (secondary[i]) ordered.push(secondary[i]!);
  }
  return ordered;
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
