import { type Query, type QueryClient, useQueryClient } from "@tanstack/react-query";
import { useEffect, useRef, useSyncExternalStore } from "react";
import { errorText } from "./api";

/** How often failed queries are tried again while the API is failing, in ms. */
const RETRY_FAILED_MS = 3_000;

export interface ApiHealth {
  /** True while any query's newest attempt failed (429, 5xx, network). */
  failing: boolean;
  /** The newest failure, as an operator reads it. */
  lastError: string;
  /** When the data on screen was last current (the oldest last success among failing queries). */
  staleSinceMs: number | null;
}

const HEALTHY: ApiHealth = { failing: false, lastError: "", staleSinceMs: null };

function healthOf(client: QueryClient): ApiHealth {
  const failed = client
    .getQueryCache()
    .getAll()
    .filter((q: Query) => q.state.status === "error");
  if (failed.length === 0) return HEALTHY;
  const newest = failed.reduce((a, b) => (b.state.errorUpdatedAt > a.state.errorUpdatedAt ? b : a));
  const successes = failed.map((q) => q.state.dataUpdatedAt).filter((ms) => ms > 0);
  return {
    failing: true,
    lastError: errorText(newest.state.error),
    staleSinceMs: successes.length > 0 ? Math.min(...successes) : null,
  };
}

/** Formats a time of day as HH:MM:SS (24 h, local time). */
export function clockTime(ms: number): string {
  return new Date(ms).toLocaleTimeString("en-GB", { hour12: false });
}

/**
 * Whether the control plane is answering, from the query cache: every query's last attempt.
 * While something fails, failed queries are retried every few seconds so that the state clears
 * by itself once the control plane is back.
 */
export function useApiHealth(): ApiHealth {
  const client = useQueryClient();
  // One object per distinct state: useSyncExternalStore needs a stable snapshot.
  const last = useRef<{ key: string; health: ApiHealth }>({ key: "", health: HEALTHY });
  const health = useSyncExternalStore(
    (notify) => client.getQueryCache().subscribe(notify),
    () => {
      const next = healthOf(client);
      const key = `${next.failing}|${next.lastError}|${next.staleSinceMs}`;
      if (key !== last.current.key) last.current = { key, health: next };
      return last.current.health;
    },
  );
  useEffect(() => {
    if (!health.failing) return;
    const timer = setInterval(() => {
      void client.refetchQueries({
        type: "active",
        predicate: (q) => q.state.status === "error" && q.state.fetchStatus === "idle",
      });
    }, RETRY_FAILED_MS);
    return () => clearInterval(timer);
  }, [client, health.failing]);
  return health;
}
