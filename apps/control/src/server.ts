import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { type ControlPlane, MAX_BATCH_CALLS } from "@edgesocks/api";
import type { Logger, Registry } from "@edgesocks/telemetry";
import { createHTTPHandler } from "@trpc/server/adapters/standalone";
import { applyWSSHandler } from "@trpc/server/adapters/ws";
import { WebSocketServer } from "ws";
import { hostAllowed, hostAllowList } from "./host-check";
import { serveDocs } from "./openapi/docs-page";
import { openApiDocument } from "./openapi/document";
import type { PacRequest } from "./pac";
import { REST_PREFIX, restHandler } from "./rest/handler";
import { type SlowConsumerOptions, watchSlowConsumers } from "./slow-consumer";
import { staticFiles } from "./static-files";
import { VERSION } from "./version";

export interface ServerOptions {
  controlPlane: ControlPlane;
  logger: Logger;
  registry: Registry;
  /** @default "127.0.0.1" */
  host?: string;
  /** 0 picks a free port. @default 8080 */
  port?: number;
  /** Browser origins allowed to call /trpc (exact match, e.g. `https://admin.example.com`). */
  corsOrigins?: readonly string[];
  /**
   * Names clients reach this server by, checked against `Host` on everything but /health,
   * /ready and /metrics (DNS-rebinding protection); the listen address is always allowed, `*`
   * allows any. @default []
   */
  allowedHosts?: readonly string[];
  /** Largest HTTP request body, in bytes. @default 4194304 (4 MiB) */
  maxBodyBytes?: number;
  /** Largest WebSocket message, in bytes. @default 4194304 (4 MiB) */
  wsMaxPayloadBytes?: number;
  /** Most calls in one HTTP batch or WebSocket message; more are refused. @default MAX_BATCH_CALLS (10) */
  maxBatchCalls?: number;
  /** Server pings after this much quiet on a WebSocket, in ms. @default 15000 */
  keepAlivePingMs?: number;
  /** A WebSocket that does not answer a ping within this is closed, in ms. @default 10000 */
  keepAlivePongWaitMs?: number;
  slowConsumer?: SlowConsumerOptions;
  /** The admin app's build folder, served at `/` when it exists. */
  adminDistDir?: string | null;
  /** For /ready: false while starting or shutting down, or when the database does not answer. */
  ready: () => Promise<boolean>;
  /** `GET /proxy.pac`: the PAC file for one client (see createPac); absent: 404. */
  pac?: (request: PacRequest) => Promise<string>;
}

export interface ControlServer extends AsyncDisposable {
  readonly port: number;
  /** `http://host:port` */
  readonly url: string;
  /** `ws://host:port/trpc` */
  readonly wsUrl: string;
  /** Stops accepting, tells WebSocket clients to reconnect (elsewhere), closes everything. */
  close(): Promise<void>;
}

const TRPC_PREFIX = "/trpc";

/** An Origin of this server itself (safe to trust once the Host header passed the allow-list). */
const isSameOrigin = (req: IncomingMessage) =>
  req.headers.origin === `http://${req.headers.host}` ||
  req.headers.origin === `https://${req.headers.host}`;

/** One port: tRPC over HTTP (`/trpc/*`) and WebSocket (`/trpc`), health, metrics, admin app. */
export async function startServer(options: ServerOptions): Promise<ControlServer> {
  const { controlPlane, logger, registry } = options;
  const maxBodyBytes = options.maxBodyBytes ?? 4 * 1024 * 1024;
  const corsOrigins = new Set(options.corsOrigins ?? []);
  const hosts = hostAllowList(options.host ?? "127.0.0.1", options.allowedHosts ?? []);
  const hostRefusal = (req: IncomingMessage) =>
    `host "${req.headers.host ?? ""}" not allowed (add it to EDGESOCKS_ALLOWED_HOSTS)\n`;
  const admin = options.adminDistDir ? staticFiles(options.adminDistDir) : null;
  const onError = ({
    error,
    path,
  }: {
    error: { code: string; message: string };
    path?: string | undefined;
  }) => {
    if (error.code === "INTERNAL_SERVER_ERROR")
      logger.error({ path, err: error.message }, "procedure failed");
  };
  const trpc = createHTTPHandler({
    router: controlPlane.router,
    createContext: controlPlane.createContext,
    basePath: `${TRPC_PREFIX}/`,
    maxBodySize: maxBodyBytes,
    maxBatchSize: options.maxBatchCalls ?? MAX_BATCH_CALLS,
    onError,
  });

  const rest = restHandler(controlPlane, logger);
  let openApiJson: string | null = null;

  const cors = (req: IncomingMessage, res: ServerResponse): boolean => {
    const origin = req.headers.origin;
    if (origin === undefined) return true;
    if (!corsOrigins.has(origin)) return false;
    res.setHeader("access-control-allow-origin", origin);
    res.setHeader("vary", "origin");
    res.setHeader("access-control-allow-headers", "authorization, content-type, trpc-accept");
    res.setHeader("access-control-allow-methods", "GET, POST, OPTIONS");
    res.setHeader("access-control-max-age", "600");
    return true;
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? "/", "http://localhost");
    const pathname = url.pathname;
    if (pathname === "/health") {
      res.writeHead(200, { "content-type": "application/json" }).end('{"status":"ok"}');
      return;
    }
    if (pathname === "/ready") {
      const ready = await options.ready().catch(() => false);
      res
        .writeHead(ready ? 200 : 503, { "content-type": "application/json" })
        .end(JSON.stringify({ status: ready ? "ready" : "not ready" }));
      return;
    }
    if (pathname === "/metrics") {
      const body = await registry.metrics();
      res.writeHead(200, { "content-type": registry.contentType }).end(body);
      return;
    }
    if (!hostAllowed(hosts, req.headers.host)) {
      res.writeHead(421, { "content-type": "text/plain" }).end(hostRefusal(req));
      return;
    }
    if (pathname === "/proxy.pac" && options.pac) {
      if (req.method !== "GET" && req.method !== "HEAD") {
        res.writeHead(405, { allow: "GET, HEAD", "content-type": "text/plain" }).end();
        return;
      }
      const body = await options.pac({
        remoteAddress: req.socket.remoteAddress,
        headers: req.headers,
      });
      // Private: the order depends on the client, so a shared cache must not reuse it.
      res
        .writeHead(200, {
          "content-type": "application/x-ns-proxy-autoconfig",
          "cache-control": "private, max-age=60",
        })
        .end(body);
      return;
    }
    if (pathname === "/openapi.json") {
      openApiJson ??= JSON.stringify(openApiDocument(controlPlane.router, VERSION));
      res
        .writeHead(200, { "content-type": "application/json", "cache-control": "no-cache" })
        .end(openApiJson);
      return;
    }
    if (serveDocs(req, res, pathname)) return;
    if (pathname.startsWith(REST_PREFIX)) {
      // Scripts and curl send no Origin; a browser on another origin is refused as for /trpc.
      if (req.headers.origin !== undefined && !isSameOrigin(req) && !cors(req, res)) {
        res.writeHead(403, { "content-type": "text/plain" }).end("origin not allowed\n");
        return;
      }
      if (req.method === "OPTIONS") {
        res.writeHead(204).end();
        return;
      }
      await rest(req, res, url);
      return;
    }
    if (pathname === TRPC_PREFIX || pathname.startsWith(`${TRPC_PREFIX}/`)) {
      // Same-origin requests from the admin app carry an Origin too; they are allowed (the Host
      // they name was checked above). Requests without Origin come from no browser page: the API
      // takes no cookies, so they carry no ambient credentials.
      if (!isSameOrigin(req) && !cors(req, res)) {
        res.writeHead(403, { "content-type": "text/plain" }).end("origin not allowed\n");
        return;
      }
      if (req.method === "OPTIONS") {
        res.writeHead(204).end();
        return;
      }
      const length = Number(req.headers["content-length"] ?? 0);
      if (length > maxBodyBytes) {
        res
          .writeHead(413, { "content-type": "text/plain", connection: "close" })
          .end(`request body over ${maxBodyBytes} bytes\n`);
        return;
      }
      trpc(req, res);
      return;
    }
    if (admin !== null) {
      admin(req, res, pathname);
      return;
    }
    res.writeHead(404, { "content-type": "text/plain" }).end("not found\n");
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      logger.error({ err: String(error) }, "request failed");
      if (!res.headersSent) res.writeHead(500).end();
      else res.destroy();
    });
  });
  server.requestTimeout = 60_000;
  server.headersTimeout = 20_000;

  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: options.wsMaxPayloadBytes ?? 4 * 1024 * 1024,
  });
  const wsHandler = applyWSSHandler({
    wss,
    router: controlPlane.router,
    createContext: controlPlane.createContext,
    maxBatchSize: options.maxBatchCalls ?? MAX_BATCH_CALLS,
    keepAlive: {
      enabled: true,
      pingMs: options.keepAlivePingMs ?? 15_000,
      pongWaitMs: options.keepAlivePongWaitMs ?? 10_000,
    },
    onError,
  });
  server.on("upgrade", (req, socket, head) => {
    const pathname = new URL(req.url ?? "/", "http://localhost").pathname;
    const origin = req.headers.origin;
    if (!hostAllowed(hosts, req.headers.host)) {
      socket.end(
        `HTTP/1.1 421 Misdirected Request\r\nconnection: close\r\n\r\n${hostRefusal(req)}`,
      );
      return;
    }
    const originOk = origin === undefined || corsOrigins.has(origin) || isSameOrigin(req);
    if (pathname !== TRPC_PREFIX || !originOk) {
      socket.end(
        `HTTP/1.1 ${originOk ? "404 Not Found" : "403 Forbidden"}\r\nconnection: close\r\n\r\n`,
      );
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => wss.emit("connection", ws, req));
  });
  const stopWatchdog = watchSlowConsumers(
    () => wss.clients,
    (_socket, bufferedBytes) => {
      controlPlane.services.metrics.slowSubscribersClosedTotal.inc();
      logger.warn({ bufferedBytes }, "closing a WebSocket whose send buffer keeps growing");
    },
    options.slowConsumer,
  );

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 8080, options.host ?? "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const host = address.family === "IPv6" ? `[${address.address}]` : address.address;

  let closed: Promise<void> | null = null;
  const close = () => {
    closed ??= (async () => {
      stopWatchdog();
      const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
      wsHandler.broadcastReconnectNotification();
      for (const client of wss.clients) client.close(1001, "server shutting down");
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      setTimeout(() => server.closeAllConnections(), 2000).unref();
      server.closeIdleConnections();
      await stopped;
    })();
    return closed;
  };
  return {
    port: address.port,
    url: `http://${host}:${address.port}`,
    wsUrl: `ws://${host}:${address.port}${TRPC_PREFIX}`,
    close,
    [Symbol.asyncDispose]: close,
  };
}
