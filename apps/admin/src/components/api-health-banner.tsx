import { type ApiHealth, clockTime } from "../lib/api-health";

/** Says that API calls fail and that what is on screen is not current. */
export function ApiHealthBanner({ health }: { health: ApiHealth }) {
  if (!health.failing) return null;
  return (
    <div className="notice notice-error api-error-banner" role="alert" data-testid="api-error">
      <strong>The control plane is not answering; what you see is not current.</strong>{" "}
      <span data-testid="stale-note">
        {health.staleSinceMs === null
          ? "No data yet"
          : `Stale since ${clockTime(health.staleSinceMs)}`}
        , last error: {health.lastError}
      </span>{" "}
      Retrying every few seconds.
    </div>
  );
}
