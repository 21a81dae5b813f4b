/**
 * @edgesocks/api: the control plane's tRPC routers. The admin app, the CLI and the relay import
 * the AppRouter type (type-only: no server code reaches them); wire schemas are in `./wire`.
 */
export {
  type Context,
  createContextFactory,
  type Services,
  tokenFrom,
  WS_CLOSE_TOKEN_REVOKED,
} from "./context";
export {
  type ControlPlane,
  type ControlPlaneOptions,
  startControlPlane,
} from "./control-plane";
export { API_ERROR_CODES, ApiError, type ApiErrorCode } from "./errors";
export { type ControlMetrics, createControlMetrics } from "./metrics";
export { type AppRouter, appRouter } from "./router";
export { CONFIG_STATUSES, type ConfigStatus } from "./services/node-status";
export { type IngestSource, SESSION_ROWS_INSERT_SQL, sessionRow } from "./services/session-ingest";
export { generateToken, hashToken } from "./tokens";
export { MAX_BATCH_CALLS } from "./trpc";
