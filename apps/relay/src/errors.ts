/** Stable error codes for everything the relay reports at its boundaries. */
export type RelayErrorCode =
  | "RELAY_E_CONFIG"
  | "RELAY_E_CLI"
  | "RELAY_E_ACL_FILE"
  | "RELAY_E_TLS"
  | "RELAY_E_SNAPSHOT"
  | "RELAY_E_PRIVILEGES"
  | "RELAY_E_GEOIP";

export class RelayError extends Error {
  readonly code: RelayErrorCode;
  constructor(code: RelayErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "RelayError";
    this.code = code;
  }
}
