import type { IncomingMessage } from "node:http";
import type { Database } from "@edgesocks/db";
import type { Logger } from "@edgesocks/telemetry";
import type { ControlMetrics } from "./metrics";
import type { AuthLimiter } from "./services/auth-limiter";
import type { NodeCommandBus } from "./services/node-commands";
import type { PolicyService } from "./services/policy-service";
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
  authLimiter: AuthLimiter;
  tokens: TokenResolver;
  /** Node ids with an open config.watch on this instance (a node may hold several). */
  watching: Map<number, number>;
  /** How long an enrollment token is valid, in ms. */
  enrollmentTtlMs: number;
  /** A heartbeat older than this means the node's active sessions are gone, in ms. */
  heartbeatStaleMs: number;
}

export interface Context {
  services: Services;
  /** Null when no valid token was presented (or the address is rate limited). */
  principal: Principal | null;
  /** The client's address, for the failed-auth rate limit. */
  clientAddress: string;
}

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
    info?: { connectionParams?: Record<string, string | undefined> | null };
  }): Promise<Context> => {
    const clientAddress = opts.req.socket.remoteAddress ?? "unknown";
    const token = tokenFrom(opts.req, opts.info?.connectionParams);
    // A rate-limited address gets no answer about its tokens, valid or not.
    const principal =
      token === null || services.authLimiter.isLimited(clientAddress)
        ? null
        : await services.tokens.resolve(token);
    return { services, principal, clientAddress };
  };
}
