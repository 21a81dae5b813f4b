import { z } from "zod";
import { DeployError } from "./errors";

/**
 * The few control-plane procedures the deploy needs, over tRPC's plain
 * HTTP/JSON form (queries: GET /trpc/<path>?input=<json>; mutations: POST
 * /trpc/<path> with the input as the body), so the deploy script does not
 * depend on the API package or a tRPC client.
 */
export const NodeView = z.looseObject({
  name: z.string(),
  region: z.string(),
  enrolled: z.boolean(),
  enrollmentPending: z.boolean().optional(),
  online: z.boolean().optional(),
  /** An open config.watch subscription on the instance that answered. */
  watching: z.boolean().optional(),
  configStatus: z.string(),
  rejectionReason: z.string().nullable().optional(),
  newestVersion: z.int().nullable(),
  appliedVersion: z.int().nullable(),
  softwareVersion: z.string().nullable().optional(),
});
export type NodeView = z.infer<typeof NodeView>;

const EnrollOutput = z.looseObject({
  node: NodeView,
  enrollmentToken: z.string().startsWith("ese_"),
});

const Envelope = z.union([
  z.object({ result: z.object({ data: z.unknown() }) }),
  z.object({
    error: z.looseObject({
      message: z.string(),
      data: z.looseObject({ code: z.string() }).optional(),
    }),
  }),
]);

/** Per request. */
const REQUEST_TIMEOUT_MS = 10_000;

export class ControlApi {
  readonly #base: string;
  readonly #token: string;

  constructor(options: { url: string; token: string }) {
    this.#base = `${options.url.replace(/\/+$/, "")}/trpc`;
    this.#token = options.token;
  }

  async listNodes(): Promise<NodeView[]> {
    return z.array(NodeView).parse(await this.#call("GET", "nodes.list", undefined));
  }

  /** A one-time enrollment token for `name` in `region`; `replace` re-enrolls an existing node. */
  async enroll(input: { name: string; region: string; replace?: boolean }) {
    return EnrollOutput.parse(await this.#call("POST", "nodes.enroll", input));
  }

  async #call(method: "GET" | "POST", path: string, input: unknown): Promise<unknown> {
    const url =
      method === "GET" && input !== undefined
        ? `${this.#base}/${path}?input=${encodeURIComponent(JSON.stringify(input))}`
        : `${this.#base}/${path}`;
    let response: Response;
    try {
      response = await fetch(url, {
        method,
        headers: {
          authorization: `Bearer ${this.#token}`,
          ...(method === "POST" ? { "content-type": "application/json" } : {}),
        },
        ...(method === "POST" ? { body: JSON.stringify(input ?? {}) } : {}),
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
    } catch (cause) {
      throw new DeployError(
        "DEPLOY_E_CONTROL",
        `control plane ${this.#base}: ${path} failed (${String((cause as Error).cause ?? (cause as Error).message)})`,
        { cause },
      );
    }
    const text = await response.text();
    let body: z.infer<typeof Envelope>;
    try {
      body = Envelope.parse(JSON.parse(text));
    } catch (cause) {
      throw new DeployError(
        "DEPLOY_E_CONTROL",
        `control plane ${path}: HTTP ${response.status}, not a tRPC answer: ${text.slice(0, 200)}`,
        { cause },
      );
    }
    if ("error" in body) {
      const code = body.error.data?.code ?? `HTTP ${response.status}`;
      throw new DeployError(
        "DEPLOY_E_CONTROL",
        `control plane ${path}: ${code}: ${body.error.message}`,
      );
    }
    return body.result.data;
  }
}
