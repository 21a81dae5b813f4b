import type { AppRouter } from "@edgesocks/api";
import { z } from "zod";
import { REST_ROUTES } from "../rest/routes";
import { RestError } from "../rest/schemas";

type JsonSchema = Record<string, unknown>;
type Role = "admin" | "viewer" | "node" | "public";

interface ProcedureDef {
  type: "query" | "mutation" | "subscription";
  inputs: z.ZodType[];
  output?: z.ZodType;
  middlewares: unknown[];
}

/** Converts zod schemas, hoisting named ones (`.meta({ id })`) into components. */
class SchemaSet {
  readonly components: Record<string, JsonSchema> = {};

  convert(schema: z.ZodType, io: "input" | "output"): JsonSchema {
    const {
      $schema: _s,
      $defs,
      ...json
    } = z.toJSONSchema(schema, {
      io,
      target: "draft-2020-12",
      reused: "inline",
      unrepresentable: "any",
    }) as JsonSchema & { $defs?: Record<string, JsonSchema> };
    for (const [name, def] of Object.entries($defs ?? {})) {
      this.components[name] = this.#rewrite(def);
    }
    return this.#rewrite(json);
  }

  #rewrite(json: JsonSchema): JsonSchema {
    return JSON.parse(JSON.stringify(json).replaceAll('"#/$defs/', '"#/components/schemas/'));
  }
}

/** Who may call each procedure, read from the auth middlewares it runs (see trpc.ts). */
function rolesOf(procedures: Record<string, { _def: ProcedureDef }>): (path: string) => Role {
  const mws = (path: string) => new Set(procedures[path]!._def.middlewares);
  const only = (a: string, b: string, not: string) =>
    [...mws(a)].filter((m) => mws(b).has(m) && !mws(not).has(m));
  const admin = only("admins.list", "users.create", "whoami");
  const viewer = only("whoami", "users.list", "nodes.exchange");
  const node = only("sessions.ingest", "nodes.heartbeat", "nodes.exchange");
  return (path) => {
    const own = mws(path);
    const has = (list: unknown[]) => list.some((m) => own.has(m));
    return has(admin) ? "admin" : has(viewer) ? "viewer" : has(node) ? "node" : "public";
  };
}

const SECURITY: Record<Role, Record<string, string[]>[]> = {
  admin: [{ adminToken: [] }],
  viewer: [{ adminToken: [] }],
  node: [{ nodeToken: [] }],
  public: [],
};

const ROLE_TEXT: Record<Role, string> = {
  admin: "Needs an admin token with role `admin`.",
  viewer: "Needs an admin token (role `viewer` or `admin`).",
  node: "Relay protocol: needs a node token (`esn_…`).",
  public: "No token.",
};

const errorResponses = (schema: JsonSchema) =>
  Object.fromEntries(
    [
      ["400", "Invalid input"],
      ["401", "No valid token"],
      ["403", "The token's role may not do this"],
      ["404", "Not found"],
      ["429", "Rate limited or overloaded; retry later"],
    ].map(([code, description]) => [
      code,
      { description, content: { "application/json": { schema } } },
    ]),
  );

/**
 * The OpenAPI 3.1 document: the REST paths (`/api/…`) and every tRPC query and mutation over
 * HTTP (`/trpc/…`), with schemas generated from the same zod schemas that check each call.
 */
export function openApiDocument(router: AppRouter, version: string): JsonSchema {
  const schemas = new SchemaSet();
  const procedures = (
    router as unknown as { _def: { procedures: Record<string, { _def: ProcedureDef }> } }
  )._def.procedures;
  const roleOf = rolesOf(procedures);
  const paths: Record<string, Record<string, unknown>> = {};
  const restError = schemas.convert(RestError, "output");

  for (const route of REST_ROUTES) {
    const parameters: unknown[] = Object.entries(route.params ?? {}).map(([name, p]) => ({
      name,
      in: "path",
      required: true,
      description: p.description,
      schema: schemas.convert(p.schema, "input"),
    }));
    const query = schemas.convert(route.query, "input") as {
      properties?: Record<string, JsonSchema>;
      required?: string[];
    };
    for (const [name, schema] of Object.entries(query.properties ?? {})) {
      parameters.push({
        name,
        in: "query",
        required: query.required?.includes(name) ?? false,
        schema,
      });
    }
    paths[route.path] ??= {};
    paths[route.path]![route.method] = {
      operationId: `rest_${route.method}_${route.path.replace(/[^A-Za-z0-9]+/g, "_").replace(/^_|_$/g, "")}`,
      tags: ["REST"],
      summary: route.summary,
      description: ROLE_TEXT[route.role],
      security: SECURITY[route.role],
      parameters,
      ...(route.body === undefined
        ? {}
        : {
            requestBody: {
              required: true,
              content: { "application/json": { schema: schemas.convert(route.body, "input") } },
            },
          }),
      responses: {
        "200": {
          description: "OK",
          content: { "application/json": { schema: schemas.convert(route.response, "output") } },
        },
        ...errorResponses(restError),
      },
    };
  }

  const trpcError = {
    type: "object",
    properties: {
      error: {
        type: "object",
        properties: {
          message: { type: "string" },
          code: { type: "integer" },
          data: {
            type: "object",
            properties: {
              code: { type: "string" },
              httpStatus: { type: "integer" },
              path: { type: "string" },
              appCode: { type: ["string", "null"] },
            },
          },
        },
        required: ["message", "code", "data"],
      },
    },
    required: ["error"],
  };
  const tags = new Set<string>();
  for (const [path, { _def: def }] of Object.entries(procedures)) {
    if (def.type === "subscription") continue; // WebSocket only
    const role = roleOf(path);
    const tag = `tRPC ${path.includes(".") ? path.split(".")[0] : path}`;
    tags.add(tag);
    const input = def.inputs[0];
    const inputSchema = input === undefined ? null : schemas.convert(input, "input");
    const inputOptional = input?.safeParse(undefined).success ?? true;
    const operation: Record<string, unknown> = {
      operationId: path,
      tags: [tag],
      summary: path,
      description: `${ROLE_TEXT[role]} tRPC ${def.type} over HTTP: the answer is \`{"result":{"data":…}}\`.`,
      security: SECURITY[role],
      responses: {
        "200": {
          description: "OK",
          content: {
            "application/json": {
              schema: {
                type: "object",
                properties: {
                  result: {
                    type: "object",
                    properties: {
                      data: def.output ? schemas.convert(def.output, "output") : {},
                    },
                    required: ["data"],
                  },
                },
                required: ["result"],
              },
            },
          },
        },
        ...errorResponses(trpcError),
      },
    };
    if (def.type === "query") {
      operation.parameters =
        inputSchema === null
          ? []
          : [
              {
                name: "input",
                in: "query",
                required: !inputOptional,
                description: "The input as JSON (URL-encoded)",
                content: { "application/json": { schema: inputSchema } },
              },
            ];
    } else if (inputSchema !== null) {
      operation.requestBody = {
        required: !inputOptional,
        content: { "application/json": { schema: inputSchema } },
      };
    }
    paths[`/trpc/${path}`] = { [def.type === "query" ? "get" : "post"]: operation };
  }

  return {
    openapi: "3.1.0",
    info: {
      title: "EdgeSocks control plane API",
      version,
      description:
        "REST paths under `/api/` (RustSocks-compatible where both have them) and every tRPC " +
        "query (GET) and mutation (POST) under `/trpc/`. Subscriptions (config.watch, " +
        "nodes.commands) run over the WebSocket at `/trpc` only. Authenticate with " +
        "`Authorization: Bearer esa_…`.",
    },
    servers: [{ url: "/" }],
    security: [{ adminToken: [] }],
    tags: [
      {
        name: "REST",
        description: "Paths for scripts; RustSocks field names where both have them",
      },
      ...[...tags].sort().map((name) => ({ name })),
    ],
    paths,
    components: {
      schemas: schemas.components,
      securitySchemes: {
        adminToken: {
          type: "http",
          scheme: "bearer",
          description: "An admin API token (`esa_…`); role viewer reads, role admin also writes",
        },
        nodeToken: {
          type: "http",
          scheme: "bearer",
          description: "A relay's node token (`esn_…`)",
        },
      },
    },
  };
}
