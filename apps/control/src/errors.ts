/**
 * Every code a control-plane startup error can carry. Callers match on these, never on messages,
 * so a code is never renamed once shipped.
 */
export const CONTROL_ERROR_CODES = ["CONTROL_E_ENV", "CONTROL_E_CLI", "CONTROL_E_LISTEN"] as const;

export type ControlErrorCode = (typeof CONTROL_ERROR_CODES)[number];

export class ControlError extends Error {
  override readonly name = "ControlError";
  readonly code: ControlErrorCode;

  constructor(code: ControlErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
  }
}
