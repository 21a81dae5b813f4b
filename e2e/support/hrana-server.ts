// A Hrana 3 over HTTP server for tests (JSON encoding; docs/HRANA_3_SPEC.md of
// tursodatabase/libsql), on the real libSQL engine with one connection per stream (baton).
//
// What it is: a test server for the protocol and the engine's semantics, so the control plane's
// `http://` / `libsql://` path runs in tests exactly as @libsql/client's HTTP transport speaks
// it. What it is not: sqld or Turso. No replication, no namespaces, no WebSocket variant, no
// Protobuf encoding, no cursors; auth is an optional bearer-token check, not JWT.
//
// Endpoints: GET /, /v2, /v3 (version probes, 200); GET /v3-protobuf (404, so a probing client
// falls back to JSON); POST /v2/pipeline (what @libsql/client 0.18 sends) and /v3/pipeline.
// Each response carries a fresh, unguessable baton; the old one stops working, a stream idle for
// `streamIdleMs` is closed (its transaction rolled back), and `close` ends it.
//
// Run it on its own: `tsx e2e/support/hrana-server.ts --db PATH [--port N] [--auth-token T]`
// prints `hrana: http://127.0.0.1:PORT` and serves until SIGTERM.
import { randomBytes, timingSafeEqual } from "node:crypto";
import { once } from "node:events";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { parseArgs } from "node:util";
import { z } from "zod";
import { PipelineReqBody, type StreamRequest, type StreamResult } from "./hrana-protocol";
import { HranaStream, protoError, StatementInspector } from "./hrana-stream";

export interface HranaServerOptions {
  /** The database file (created if missing, switched to WAL). */
  path: string;
  /** @default "127.0.0.1" */
  host?: string;
  /** @default 0 (any free port) */
  port?: number;
  /** When set, every request must carry `Authorization: Bearer <authToken>`. */
  authToken?: string;
  /** A stream unused this long is closed and its transaction rolled back, in ms. @default 10000 */
  streamIdleMs?: number;
  /** How long a statement waits for another stream's write lock, in ms. @default 5000 */
  busyTimeoutMs?: number;
  /** Largest pipeline request body, in bytes. @default 67108864 */
  maxBodyBytes?: number;
}

export interface HranaServer extends AsyncDisposable {
  /** `http://HOST:PORT`, the DATABASE_URL for the control plane. */
  readonly url: string;
  /** Streams open now (for leak checks). */
  readonly openStreams: number;
  /** Pipeline requests served so far. */
  readonly pipelines: number;
  close(): Promise<void>;
}

interface OpenStream {
  stream: HranaStream;
  /** Closes the stream when it stays unused. */
  timer: NodeJS.Timeout | null;
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(text),
  });
  res.end(text);
}

const fail = (res: ServerResponse, status: number, code: string, message: string) =>
  send(res, status, { message, code });

async function readBody(req: IncomingMessage, maxBytes: number): Promise<Buffer | null> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxBytes) return null;
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

export async function startHranaServer(options: HranaServerOptions): Promise<HranaServer> {
  const streamIdleMs = options.streamIdleMs ?? 10_000;
  const busyTimeoutMs = options.busyTimeoutMs ?? 5000;
  const maxBodyBytes = options.maxBodyBytes ?? 64 * 1024 * 1024;
  const expected =
    options.authToken === undefined ? null : Buffer.from(`Bearer ${options.authToken}`);
  const batons = new Map<string, OpenStream>();
  let pipelines = 0;

  const inspector = new StatementInspector(options.path);
  {
    const setup = new HranaStream({ path: options.path, busyTimeoutMs, inspector });
    setup.sequence({ sql: "PRAGMA journal_mode = WAL" });
    setup.close();
  }

  const authorized = (req: IncomingMessage) => {
    if (expected === null) return true;
    const given = Buffer.from(req.headers.authorization ?? "");
    return given.length === expected.length && timingSafeEqual(given, expected);
  };

  async function handle(stream: HranaStream, request: StreamRequest): Promise<StreamResult> {
    if (stream.closed) {
      return { type: "error", error: { message: "the stream is closed", code: "STREAM_CLOSED" } };
    }
    try {
      switch (request.type) {
        case "close":
          stream.close();
          return { type: "ok", response: { type: "close" } };
        case "execute":
          return {
            type: "ok",
            response: { type: "execute", result: await stream.execute(request.stmt) },
          };
        case "batch":
          return {
            type: "ok",
            response: { type: "batch", result: await stream.batch(request.batch) },
          };
        case "sequence":
          stream.sequence(request);
          return { type: "ok", response: { type: "sequence" } };
        case "describe":
          return { type: "ok", response: { type: "describe", result: stream.describe(request) } };
        case "store_sql":
          stream.storeSql(request.sql_id, request.sql);
          return { type: "ok", response: { type: "store_sql" } };
        case "close_sql":
          stream.closeSql(request.sql_id);
          return { type: "ok", response: { type: "close_sql" } };
        case "get_autocommit":
          return {
            type: "ok",
            response: { type: "get_autocommit", is_autocommit: stream.isAutocommit },
          };
      }
    } catch (error) {
      return { type: "error", error: protoError(error) };
    }
  }

  async function pipeline(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readBody(req, maxBodyBytes);
    if (body === null) {
      return fail(res, 413, "PROTO_ERROR", `the request body is over ${maxBodyBytes} bytes`);
    }
    let json: unknown;
    try {
      json = JSON.parse(body.toString("utf8"));
    } catch {
      return fail(res, 400, "PROTO_ERROR", "the request body is not JSON");
    }
    const parsed = PipelineReqBody.safeParse(json);
    if (!parsed.success) {
      return fail(
        res,
        400,
        "PROTO_ERROR",
        `bad pipeline request: ${z.prettifyError(parsed.error)}`,
      );
    }
    let open: OpenStream;
    if (parsed.data.baton === null || parsed.data.baton === undefined) {
      open = {
        stream: new HranaStream({ path: options.path, busyTimeoutMs, inspector }),
        timer: null,
      };
    } else {
      const found = batons.get(parsed.data.baton);
      if (found === undefined) {
        return fail(res, 400, "STREAM_EXPIRED", "the baton is unknown, used or expired");
      }
      batons.delete(parsed.data.baton); // a baton works once: requests on a stream are serial
      open = found;
    }
    if (open.timer !== null) clearTimeout(open.timer);
    pipelines += 1;
    const results: StreamResult[] = [];
    for (const request of parsed.data.requests) results.push(await handle(open.stream, request));
    let baton: string | null = null;
    if (!open.stream.closed) {
      baton = randomBytes(24).toString("base64url");
      open.timer = setTimeout(() => {
        batons.delete(baton!);
        open.stream.close();
      }, streamIdleMs).unref();
      batons.set(baton, open);
    }
    send(res, 200, { baton, base_url: null, results });
  }

  const server = createServer((req, res) => {
    if (!authorized(req)) {
      req.resume();
      return fail(res, 401, "AUTH_FAILED", "missing or wrong bearer token");
    }
    const path = new URL(req.url ?? "/", "http://x").pathname.replace(/\/+$/, "");
    if (req.method === "GET" && ["", "/v2", "/v3"].includes(path)) {
      res.writeHead(200, { "content-type": "text/plain" }).end("hrana test server\n");
      return;
    }
    if (req.method === "POST" && (path === "/v2/pipeline" || path === "/v3/pipeline")) {
      pipeline(req, res).catch((error: unknown) => {
        if (!res.headersSent) fail(res, 500, "INTERNAL", String(error));
      });
      return;
    }
    req.resume();
    fail(
      res,
      404,
      "NOT_SUPPORTED",
      `${req.method} ${path} is not served by this Hrana test server`,
    );
  });
  server.listen(options.port ?? 0, options.host ?? "127.0.0.1");
  await once(server, "listening");
  const address = server.address() as AddressInfo;

  let closed: Promise<void> | null = null;
  const close = () => {
    closed ??= (async () => {
      const done = once(server, "close");
      server.close();
      server.closeAllConnections();
      await done;
      for (const open of batons.values()) {
        if (open.timer !== null) clearTimeout(open.timer);
        open.stream.close();
      }
      batons.clear();
      inspector.close();
    })();
    return closed;
  };
  return {
    url: `http://${address.address}:${address.port}`,
    get openStreams() {
      return batons.size;
    },
    get pipelines() {
      return pipelines;
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}

if (import.meta.main) {
  const { values } = parseArgs({
    options: {
      db: { type: "string" },
      host: { type: "string", default: "127.0.0.1" },
      port: { type: "string", default: "0" },
      "auth-token": { type: "string" },
    },
  });
  if (values.db === undefined || !/^\d+$/.test(values.port)) {
    console.error("usage: hrana-server.ts --db PATH [--host H] [--port N] [--auth-token T]");
    process.exit(2);
  }
  const server = await startHranaServer({
    path: values.db,
    host: values.host,
    port: Number(values.port),
    ...(values["auth-token"] === undefined ? {} : { authToken: values["auth-token"] }),
  });
  console.log(`hrana: ${server.url}`);
  process.once("SIGTERM", () => void server.close().then(() => process.exit(0)));
  process.once("SIGINT", () => void server.close().then(() => process.exit(0)));
}
