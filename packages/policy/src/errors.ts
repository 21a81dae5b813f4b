/**
 * Every code a policy error can carry. Callers (metrics labels, tests) match on these, never on
 * messages, so a code is never renamed once shipped.
 */
export const POLICY_ERROR_CODES = ["POLICY_E_INVALID"] as const;

export type PolicyErrorCode = (typeof POLICY_ERROR_CODES)[number];

export interface PolicyErrorOptions {
  /** Where in the snapshot the problem is, e.g. `rules[12].destinations[1]`; "" for the whole document. */
  path: string;
  cause?: unknown;
}

/** A snapshot (or part of one) that cannot be compiled. The message starts with the path. */
export class PolicyError extends Error {
  override readonly name = "PolicyError";
  readonly code: PolicyErrorCode;
  readonly path: string;

  constructor(code: PolicyErrorCode, message: string, options: PolicyErrorOptions) {
    super(
      options.path === "" ? message : `${options.path}: ${message}`,
      options.cause === undefined ? undefined : { cause: options.cause },
    );
    this.code = code;
    this.path = options.path;
  }
}
