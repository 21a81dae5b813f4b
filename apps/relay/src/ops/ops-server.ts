import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Registry } from "@edgesocks/telemetry";

export interface OpsServerOptions {
  host: string;
  port: number;
  /** The metrics to serve, looked up per scrape (worker threads aggregate theirs into one). */
  registry: () => Promise<Registry>;
  /** Ready means: listening and serving with a policy. */
  ready: () => boolean;
  /**
   * Health detail shown by /health and /ready, e.g. `{ spool: { writable: false, ... } }`;
   * `degraded: true` turns /health's status to "degraded" (still 200: the relay keeps relaying).
   */
  detail?: () => { degraded: boolean; [part: string]: unknown };
  /** Extra JSON routes, e.g. `/sessions/active`. */
  routes?: Record<string, () => unknown>;
}

export interface OpsServer {
  address(): AddressInfo;
  close(): Promise<void>;
}

/** Health, readiness, Prometheus metrics and small JSON views, on a separate port from SOCKS. */
export async function startOpsServer(options: OpsServerOptions): Promise<OpsServer> {
  const server: Server = createServer((req, res) => {
    handle(options, req, res).catch((error: unknown) => {
      res.writeHead(500, { "content-type": "text/plain" }).end(String(error));
    });
  });
  server.keepAliveTimeout = 5_000;
  server.requestTimeout = 10_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  return {
    address: () => server.address() as AddressInfo,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

async function handle(options: OpsServerOptions, req: IncomingMessage, res: ServerResponse) {
  const path = (req.url ?? "/").split("?")[0];
  if (req.method !== "GET" && req.method !== "HEAD") {
    res.writeHead(405, { allow: "GET, HEAD" }).end();
    return;
  }
  const { degraded = false, ...detail } = options.detail?.() ?? {};
  if (path === "/health")
    return json(res, 200, { status: degraded ? "degraded" : "ok", ...detail });
  if (path === "/ready") {
    const ready = options.ready();
    return json(res, ready ? 200 : 503, { status: ready ? "ready" : "not ready", ...detail });
  }
  if (path === "/metrics") {
    const registry = await options.registry();
    const body = await registry.metrics();
    res.writeHead(200, { "content-type": registry.contentType }).end(body);
    return;
  }
  const route = path ? options.routes?.[path] : undefined;
  if (route) return json(res, 200, await route());
  json(res, 404, { error: `no route ${path}` });
}

function json(res: ServerResponse, status: number, body: unknown) {
  res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
}
