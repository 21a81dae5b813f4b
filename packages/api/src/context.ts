import type { IncomingMessage } from "node:http";
import type { Database } from "@edgesocks/db";
import type { Logger } from "@edgesocks/telemetry";
import type { ControlMetrics } from "./metrics";
import type { AuthLimiter } from "./services/auth-limiter";
import { clientAddressOf, type TrustedProxies } from "./services/client-address";
import type { ConnectionGuard } from "./services/connection-guard";
import type { NodeCommandBus } from "./services/node-commands";
import type { PolicyService } from "./services/policy-service";
import type { QuotaAnnouncer } from "./services/quota-usage";
import type { SessionIngest } from "./services/session-ingest";
import type { SnapshotHub } from "./services/snapshot-hub";
import type { Principal, TokenResolver } from "./services/token-resolver";

/** Everything procedures use; one per control-plane instance. */
export interface Services {
  database: Database;
  logger: Logger;
  metrics: ControlMetrics;
  hub: SnapshotHub;
  policy: PolicyService;
  ingest: SessionIngest;
  commands: NodeCommandBus;
  /** Tells relays at once when the fleet spends a quota. */
  quotas: QuotaAnnouncer;
  authLimiter: AuthLimiter;
  /** Failed `nodes.exchange` guesses per enrollment-token prefix. */
  exchangeLimiter: AuthLimiter;
  /** Failed `nodes.exchange` guesses fleet-wide (one key). */
  exchangeGlobalLimiter: AuthLimiter;
  tokens: TokenResolver;
  /** Closes WebSockets whose token lost its rights. */
  guard: ConnectionGuard;
  /** Peers whose X-Forwarded-For names the client (none by default). */
  trustedProxies: TrustedProxies;
  /** Subscriptions one WebSocket may hold at once. */
  maxSubscriptionsPerSocket: number;
  /** Node ids with an open config.watch on this instance (a node may hold several). */
  watching: Map<number, number>;
  /** How long an enrollment token is valid, in ms. */
  enrollmentTtlMs: number;
  /** A heartbeat older than this means the node's active sessions are gone, in ms. */
  heartbeatStaleMs: number;
}

export interface Context {
  services: Services;
  /** The bearer token presented, null when none: resolved again on every call (trpc.ts). */
  token: string | null;
  /** What `token` resolved to when the request or socket opened. */
  principal: Principal | null;
  /** The client's address (through trusted proxies), for the failed-auth rate limit. */
  clientAddress: string;
  /** Per WebSocket: its open subscriptions, for the cap; null over HTTP. */
  socket: { subscriptions: number } | null;
}

/** The parts of a `ws` WebSocket the context uses (the tRPC WS adapter passes it as `res`). */
interface WebSocketLike {
  readyState: number;
  close(code?: number, reason?: string): void;
  once(event: "close", listener: () => void): unknown;
}

function asWebSocket(res: unknown): WebSocketLike | null {
  return typeof res === "object" &&
    res !== null &&
    "readyState" in res &&
    "once" in res &&
    typeof (res as WebSocketLike).close === "function"
    ? (res as WebSocketLike)
    : null;
}

/** WebSocket close code for "your token lost its rights" (the client may reconnect and ask again). */
export const WS_CLOSE_TOKEN_REVOKED = 4401;

/** `Authorization: Bearer …` over HTTP; `connectionParams.token` over WebSocket. */
export function tokenFrom(
  req: IncomingMessage,
  connectionParams: Record<string, string | undefined> | null | undefined,
): string | null {
  const header = req.headers.authorization;
  if (header !== undefined) {
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    if (match) return match[1]!;
  }
  const param = connectionParams?.token;
  return typeof param === "string" && param !== "" ? param : null;
}

/** Builds the tRPC context for one HTTP request or one WebSocket connection. */
export function createContextFactory(services: Services) {
  return async (opts: {
    req: IncomingMessage;
    res?: unknown;
    info?: { connectionParams?: Record<string, string | undefined> | null };
  }): Promise<Context> => {
    const clientAddress = clientAddressOf(opts.req, services.trustedProxies);
    const token = tokenFrom(opts.req, opts.info?.connectionParams);
    // A valid token always works, whatever others sent from the same address (trpc.ts limits
    // only the wrong ones).
    const principal = token === null ? null : await services.tokens.resolve(token);
    const ws = asWebSocket(opts.res);
    if (ws !== null && token !== null && principal !== null) {
      const release = services.guard.add({
        token,
        principal,
        close: (reason) => ws.close(WS_CLOSE_TOKEN_REVOKED, reason),
      });
      ws.once("close", release);
      if (ws.readyState > 1) release(); // closed while the token was looked up
    }
    return {
      services,
      token,
      principal,
      clientAddress,
      socket: ws === null ? null : { subscriptions: 0 },
    };
  };
}
