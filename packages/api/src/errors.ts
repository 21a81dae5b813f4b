import { TRPCError } from "@trpc/server";

/**
 * Stable codes of API errors, sent to clients as `error.data.appCode` next to the tRPC code.
 * Clients and tests match on these, never on messages, so a code is never renamed once shipped.
 */
export const API_ERROR_CODES = {
  API_E_UNAUTHORIZED: "UNAUTHORIZED",
  API_E_FORBIDDEN: "FORBIDDEN",
  API_E_RATE_LIMITED: "TOO_MANY_REQUESTS",
  API_E_TOO_MANY_SUBSCRIPTIONS: "TOO_MANY_REQUESTS",
  API_E_POLICY_INVALID: "BAD_REQUEST",
  API_E_BAD_INPUT: "BAD_REQUEST",
  API_E_NOT_FOUND: "NOT_FOUND",
  API_E_CONFLICT: "CONFLICT",
  API_E_OVERLOADED: "TOO_MANY_REQUESTS",
  API_E_UNAVAILABLE: "SERVICE_UNAVAILABLE",
} as const satisfies Record<string, TRPCError["code"]>;

export type ApiErrorCode = keyof typeof API_ERROR_CODES;

/** A typed API error: the tRPC code follows from the stable `appCode`. */
export class ApiError extends TRPCError {
  readonly appCode: ApiErrorCode;

  constructor(appCode: ApiErrorCode, message: string, options?: { cause?: unknown }) {
    super({ code: API_ERROR_CODES[appCode], message, cause: options?.cause });
    this.appCode = appCode;
  }
}
