/** Stable codes for everything the deploy script reports. */
export type DeployErrorCode =
  | "DEPLOY_E_CLI"
  | "DEPLOY_E_INVENTORY"
  | "DEPLOY_E_BUNDLE"
  | "DEPLOY_E_SSH"
  | "DEPLOY_E_CONTROL"
  | "DEPLOY_E_HEALTH"
  | "DEPLOY_E_ENROLL";

export class DeployError extends Error {
  readonly code: DeployErrorCode;
  constructor(code: DeployErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "DeployError";
    this.code = code;
  }
}
