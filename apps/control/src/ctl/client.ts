import type { AppRouter } from "@edgesocks/api";
import { createTRPCClient, httpLink, TRPCClientError } from "@trpc/client";
import { CtlError, UsageError } from "./args";
import type { Api } from "./command";

/** How long one API call may take, in ms. */
export const API_TIMEOUT_MS = 30_000;

/** `--url`/EDGESOCKS_URL → `http(s)://host:port[/prefix]` without a trailing `/` or `/trpc`. */
export function baseUrl(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch (cause) {
    throw new UsageError(`--url: "${text}" is not a URL (e.g. http://127.0.0.1:8080)`, {
      cause,
    });
  }
  if (url.protocol === "ws:" || url.protocol === "wss:")
    url.protocol = url.protocol === "ws:" ? "http:" : "https:";
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new UsageError(`--url: expected http:// or https://, got "${text}"`);
  }
  return `${url.origin}${url.pathname.replace(/\/+$/, "").replace(/\/trpc$/, "")}`;
}

/** A typed tRPC client over plain HTTP: every call has API_TIMEOUT_MS. */
export function createApi(url: string, token: string): Api {
  return createTRPCClient<AppRouter>({
    links: [
      httpLink({
        url: `${url}/trpc`,
        headers: () => ({ authorization: `Bearer ${token}` }),
        fetch: (input, init) =>
          fetch(input, { ...(init as RequestInit), signal: AbortSignal.timeout(API_TIMEOUT_MS) }),
      }),
    ],
  });
}

/** The first error code (`ECONNREFUSED`, …) or name (`TimeoutError`) along the cause chain. */
function rootCause(error: unknown): { code?: string; name?: string } {
  let found: { code?: string; name?: string } = {};
  for (let e = error, depth = 0; e && typeof e === "object" && depth < 8; depth++) {
    const { code, name, cause } = e as { code?: unknown; name?: unknown; cause?: unknown };
    if (typeof code === "string" && found.code === undefined) found = { ...found, code };
    if (name === "TimeoutError" || name === "AbortError") found = { ...found, name };
    e = cause;
  }
  return found;
}

const NETWORK: Record<string, string> = {
  ECONNREFUSED: "connection refused",
  ENOTFOUND: "host not found",
  EAI_AGAIN: "host name lookup failed",
  ECONNRESET: "connection reset",
  EHOSTUNREACH: "host unreachable",
  ENETUNREACH: "network unreachable",
  ETIMEDOUT: "connect timed out",
  UND_ERR_CONNECT_TIMEOUT: "connect timed out",
};

/**
 * One line for any failure: an API error's message and stable code, a network failure named
 * plainly, a multi-line validation message folded ("✖ msg → at path" → "msg (at path)").
 */
export function describeError(error: unknown, url: string): string {
  if (error instanceof CtlError) return error.message;
  const cause = rootCause(error);
  if (cause.name === "TimeoutError" || cause.name === "AbortError") {
    return `the control plane at ${url} did not answer within ${API_TIMEOUT_MS / 1000} s`;
  }
  if (cause.code !== undefined && NETWORK[cause.code] !== undefined) {
    return `cannot reach the control plane at ${url}: ${NETWORK[cause.code]}`;
  }
  if (error instanceof TRPCClientError) {
    const data = error.data as { appCode?: string | null; httpStatus?: number } | undefined;
    if (data === undefined || data === null) {
      return `${url} did not answer like an EdgeSocks control plane (${oneLine(error.message)})`;
    }
    const message = oneLine(error.message);
    return data.appCode ? `${message} (${data.appCode})` : message;
  }
  return oneLine(error instanceof Error ? error.message : String(error));
}

function oneLine(message: string): string {
  const items: string[] = [];
  for (const raw of message.split("\n")) {
    const line = raw.trim();
    const at = /^→\s*at\s+(.*)$/.exec(line);
    if (at && items.length > 0) items[items.length - 1] += ` (at ${at[1]})`;
    else if (line !== "") items.push(line.replace(/^✖\s*/, ""));
  }
  return items.join("; ");
}
