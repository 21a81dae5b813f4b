import type { AppRouter } from "@edgesocks/api";
import { createTRPCClient, httpBatchLink, TRPCClientError } from "@trpc/client";

/** The typed API client; procedures are called as `api.users.list.query()`. */
export type Api = ReturnType<typeof createApi>;

/** A client that sends `token` as a bearer token to the control plane this app came from. */
export function createApi(token: string) {
  return createTRPCClient<AppRouter>({
    links: [
      httpBatchLink({
        url: "/trpc",
        // Batched GETs put every input in the URL; keep it well under proxies' limits.
        maxURLLength: 4000,
        // The control plane refuses batches of more calls (MAX_BATCH_CALLS).
        maxItems: 10,
        headers: () => ({ authorization: `Bearer ${token}` }),
      }),
    ],
  });
}

/** The tRPC error code of an API error (`UNAUTHORIZED`, `FORBIDDEN`, ...), or null. */
export function errorCode(error: unknown): string | null {
  if (error instanceof TRPCClientError) {
    const data = error.data as { code?: string } | undefined;
    return data?.code ?? null;
  }
  return null;
}

/** A message for an operator: the API's own message, or what went wrong on the way. */
export function errorText(error: unknown): string {
  if (error instanceof TRPCClientError) {
    if (error.message === "Failed to fetch" || error.message.includes("NetworkError")) {
      return "The control plane did not answer. Check that it is running and reachable.";
    }
    return error.message;
  }
  if (error instanceof Error) return error.message;
  return String(error);
}
