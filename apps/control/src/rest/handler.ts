import type { IncomingMessage, ServerResponse } from "node:http";
import type { ControlPlane } from "@edgesocks/api";
import type { Logger } from "@edgesocks/telemetry";
import { TRPCError } from "@trpc/server";
import { getHTTPStatusCodeFromError } from "@trpc/server/http";
import { z } from "zod";
import { REST_ROUTES, type RestRoute } from "./routes";

/** Largest JSON body a REST call takes, in bytes. */
const MAX_REST_BODY_BYTES = 64 * 1024;

export const REST_PREFIX = "/api/";

const compiled = REST_ROUTES.map((route) => {
  const names: string[] = [];
  const source = route.path.replace(/\{(\w+)\}/g, (_m, name: string) => {
    names.push(name);
    return "([^/]+)";
  });
  return { route, names, pattern: new RegExp(`^${source}$`) };
});

class RestFailure extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res
    .writeHead(status, { "content-type": "application/json", "cache-control": "no-store" })
    .end(JSON.stringify(body));
}

function sendError(res: ServerResponse, status: number, error: string, message: string): void {
  if (status === 401) res.setHeader("www-authenticate", 'Bearer realm="edgesocks"');
  send(res, status, { error, message, status_code: status });
}

function parse<T extends z.ZodType>(schema: T, value: unknown, where: string): z.output<T> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    throw new RestFailure(400, "API_E_BAD_INPUT", `${where}: ${z.prettifyError(parsed.error)}`);
  }
  return parsed.data;
}

function queryObject(url: URL): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of url.searchParams) {
    if (key in out) throw new RestFailure(400, "API_E_BAD_INPUT", `query: ${key} is given twice`);
    out[key] = value;
  }
  return out;
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const type = req.headers["content-type"] ?? "";
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_REST_BODY_BYTES) {
      throw new RestFailure(413, "API_E_BAD_INPUT", `body: over ${MAX_REST_BODY_BYTES} bytes`);
    }
    chunks.push(chunk);
  }
  if (size === 0) return undefined;
  if (!/^application\/json\b/i.test(type)) {
    throw new RestFailure(
      415,
      "API_E_BAD_INPUT",
      "body: send JSON (content-type: application/json)",
    );
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString("utf8"));
  } catch {
    throw new RestFailure(400, "API_E_BAD_INPUT", "body: not valid JSON");
  }
}

/** The REST paths under /api/ (see REST_ROUTES); errors are `{error, message, status_code}`. */
export function restHandler(controlPlane: ControlPlane, logger: Logger) {
  return async (req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> => {
    const path = url.pathname;
    const matches = compiled.filter((c) => c.pattern.test(path));
    const match = matches.find((c) => c.route.method === req.method?.toLowerCase());
    if (match === undefined) {
      if (matches.length > 0) {
        const allow = matches.map((c) => c.route.method.toUpperCase()).join(", ");
        res.setHeader("allow", allow);
        sendError(res, 405, "METHOD_NOT_ALLOWED", `${path} takes ${allow}, not ${req.method}`);
      } else sendError(res, 404, "NOT_FOUND", `no REST path ${path} (see /openapi.json)`);
      return;
    }
    const { route } = match;
    try {
      const groups = match.pattern.exec(path)!.slice(1);
      const params: Record<string, string> = {};
      for (const [i, name] of match.names.entries()) {
        let value: string;
        try {
          value = decodeURIComponent(groups[i]!);
        } catch {
          throw new RestFailure(400, "API_E_BAD_INPUT", `${name}: not a valid path segment`);
        }
        params[name] = parse(route.params![name]!.schema, value, name);
      }
      const query = parse(route.query, queryObject(url), "query");
      const raw = await readJson(req);
      const body = route.body === undefined ? noBody(raw) : parse(route.body, raw ?? {}, "body");
      const ctx = await controlPlane.createContext({ req });
      const caller = controlPlane.router.createCaller(ctx);
      const result = await run(route, {
        caller,
        db: controlPlane.services.database.db,
        params,
        query,
        body,
      });
      send(res, 200, result);
    } catch (error) {
      if (error instanceof RestFailure) sendError(res, error.status, error.code, error.message);
      else if (error instanceof TRPCError) {
        const appCode = (error as { appCode?: string }).appCode;
        const invalid = error.code === "BAD_REQUEST" && error.cause instanceof z.ZodError;
        const status = getHTTPStatusCodeFromError(error);
        if (status >= 500) logger.error({ path, err: error.message }, "REST call failed");
        sendError(
          res,
          status,
          appCode ?? (invalid ? "API_E_BAD_INPUT" : error.code),
          // Messages only: stack traces and causes stay in the logs.
          invalid
            ? z.prettifyError(error.cause as z.ZodError)
            : status >= 500 && appCode === undefined
              ? "internal error (see the control plane's log)"
              : error.message,
        );
      } else throw error;
    }
  };
}

function noBody(raw: unknown): undefined {
  if (raw !== undefined)
    throw new RestFailure(400, "API_E_BAD_INPUT", "body: this path takes none");
  return undefined;
}

/** Runs a route and checks its answer against the schema the OpenAPI document publishes. */
async function run(route: RestRoute, call: Parameters<RestRoute["run"]>[0]): Promise<unknown> {
  const result = await route.run(call);
  const checked = route.response.safeParse(result);
  if (!checked.success) {
    throw new TRPCError({
      code: "INTERNAL_SERVER_ERROR",
      message: `${route.path} answered outside its schema`,
      cause: checked.error,
    });
  }
  return checked.data;
}
