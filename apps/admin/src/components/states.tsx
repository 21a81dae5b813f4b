import type { UseQueryResult } from "@tanstack/react-query";
import type { ReactNode } from "react";
import { errorText } from "../lib/api";
import { clockTime } from "../lib/api-health";
import { Button } from "./button";

export function Loading({ label = "Loading…" }: { label?: string }) {
  return (
    <div className="state" role="status" aria-live="polite">
      <div className="spinner" />
      <span>{label}</span>
    </div>
  );
}

export function EmptyState({
  title,
  children,
  action,
}: {
  title: string;
  children?: ReactNode;
  action?: ReactNode;
}) {
  return (
    <div className="state">
      <h3>{title}</h3>
      {children ? <p>{children}</p> : null}
      {action}
    </div>
  );
}

export function ErrorState({ error, retry }: { error: unknown; retry?: () => void }) {
  return (
    <div className="state state-error" role="alert">
      <h3>Could not load this</h3>
      <p>{errorText(error)}</p>
      {retry ? (
        <Button size="sm" onClick={retry}>
          Try again
        </Button>
      ) : null}
    </div>
  );
}

/**
 * Loading, error and empty states for one query, then `children` with the data. A background
 * refetch that fails keeps showing the last data (with a note), not an error page.
 */
export function QueryView<T>({
  query,
  isEmpty,
  empty,
  loading,
  children,
}: {
  query: UseQueryResult<T>;
  isEmpty?: (data: T) => boolean;
  empty?: ReactNode;
  loading?: ReactNode;
  children: (data: T) => ReactNode;
}) {
  if (query.isPending) return <>{loading ?? <Loading />}</>;
  if (query.isError && query.data === undefined) {
    return <ErrorState error={query.error} retry={() => void query.refetch()} />;
  }
  const data = query.data as T;
  return (
    <>
      {query.isError ? (
        <div className="notice notice-warn" role="status">
          Stale since {clockTime(query.dataUpdatedAt)}, last error: {errorText(query.error)}
        </div>
      ) : null}
      {isEmpty?.(data) && empty !== undefined ? empty : children(data)}
    </>
  );
}
