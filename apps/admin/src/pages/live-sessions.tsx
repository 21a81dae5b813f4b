import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useMemo, useState } from "react";
import { Button } from "../components/button";
import { Badge, Card, PageHeader } from "../components/card";
import { ConfirmDialog } from "../components/dialog";
import { Field, Input, Select } from "../components/field";
import { EmptyState, QueryView } from "../components/states";
import { useToast } from "../components/toast";
import { errorText } from "../lib/api";
import type { ActiveSession } from "../lib/api-types";
import { useApi } from "../lib/auth";
import { formatBytes, formatCount, formatDuration, formatEndpoint } from "../lib/format";
import { keys } from "../lib/query-keys";
import { distinct, filterActiveSessions, type LiveFilter } from "../lib/session-filters";
import { useNow } from "../lib/use-now";

type Row = ActiveSession & { node: string; region: string };

const REFRESH_MS = 2_000;
/**
 * Rows per page: a fleet can hold thousands of open sessions, and the table re-renders each
 * second (durations); only one page of them is in the DOM.
 */
export const LIVE_PAGE_SIZE = 100;

export function LiveSessionsPage() {
  const api = useApi();
  const notify = useToast();
  const queryClient = useQueryClient();
  const now = useNow(1000);
  const [filter, setFilter] = useState<LiveFilter>({ search: "", node: "", region: "", user: "" });
  const [target, setTarget] = useState<Row | null>(null);
  const [page, setPage] = useState(0);
  const active = useQuery({
    queryKey: keys.sessions.active.list(),
    queryFn: () => api.sessions.active.query({ limit: 5000 }),
    refetchInterval: REFRESH_MS,
  });
  const terminate = useMutation({
    mutationFn: (row: Row) => api.sessions.terminate.mutate({ id: row.id, node: row.node }),
    onSuccess: (result) => {
      notify(`Asked ${result.node} to terminate the session`);
      setTarget(null);
      void queryClient.invalidateQueries({ queryKey: keys.sessions.active.all() });
    },
  });
  const rows = active.data?.items ?? [];
  const shown = useMemo(() => filterActiveSessions(rows, filter), [rows, filter]);
  const pages = Math.max(1, Math.ceil(shown.length / LIVE_PAGE_SIZE));
  // Sessions end between refreshes: stay on the last page that still exists.
  const current = Math.min(page, pages - 1);
  const pageRows = shown.slice(current * LIVE_PAGE_SIZE, (current + 1) * LIVE_PAGE_SIZE);
  const set = (patch: Partial<LiveFilter>) => {
    setFilter((f) => ({ ...f, ...patch }));
    setPage(0);
  };
  const choices = (values: string[], all: string) => [
    { value: "", label: all },
    ...values.map((v) => ({ value: v, label: v })),
  ];

  return (
    <div className="page">
      <PageHeader
        title="Live sessions"
        description={`Every open session across the fleet, from the relays' heartbeats; refreshes every ${REFRESH_MS / 1000} s.`}
      />
      <Card flush>
        <div className="card-body">
          <search className="filters">
            <Field label="Search" hint="User, destination, :port, node, client or id">
              {(c) => (
                <Input
                  {...c}
                  type="search"
                  value={filter.search}
                  placeholder="e.g. alice example.com"
                  onChange={(e) => set({ search: e.target.value })}
                />
              )}
            </Field>
            <Field label="User">
              {(c) => (
                <Select
                  {...c}
                  value={filter.user}
                  onChange={(e) => set({ user: e.target.value })}
                  options={choices(
                    distinct(rows, (r) => r.user),
                    "All users",
                  )}
                />
              )}
            </Field>
            <Field label="Node">
              {(c) => (
                <Select
                  {...c}
                  value={filter.node}
                  onChange={(e) => set({ node: e.target.value })}
                  options={choices(
                    distinct(rows, (r) => r.node),
                    "All nodes",
                  )}
                />
              )}
            </Field>
            <Field label="Region">
              {(c) => (
                <Select
                  {...c}
                  value={filter.region}
                  onChange={(e) => set({ region: e.target.value })}
                  options={choices(
                    distinct(rows, (r) => r.region),
                    "All regions",
                  )}
                />
              )}
            </Field>
          </search>
        </div>
        <QueryView query={active}>
          {(data) => (
            <>
              {data.truncatedNodes.length > 0 ? (
                <div className="notice notice-warn" style={{ margin: "0 16px 12px" }}>
                  {data.truncatedNodes.join(", ")} reported only their largest sessions.
                </div>
              ) : null}
              <div className="spread" style={{ padding: "0 16px 8px" }}>
                <span className="muted" aria-live="polite" data-testid="live-count">
                  {shown.length === data.total
                    ? `${formatCount(data.total)} active sessions`
                    : `${formatCount(shown.length)} of ${formatCount(data.total)} active sessions`}
                </span>
                {pages > 1 ? (
                  <nav className="row" aria-label="Pages of active sessions">
                    <span className="muted" data-testid="live-page">
                      {formatCount(current * LIVE_PAGE_SIZE + 1)}–
                      {formatCount(current * LIVE_PAGE_SIZE + pageRows.length)} (page {current + 1}{" "}
                      of {pages})
                    </span>
                    <Button size="sm" disabled={current === 0} onClick={() => setPage(current - 1)}>
                      Previous
                    </Button>
                    <Button
                      size="sm"
                      disabled={current >= pages - 1}
                      onClick={() => setPage(current + 1)}
                    >
                      Next
                    </Button>
                  </nav>
                ) : null}
              </div>
              {shown.length === 0 ? (
                <EmptyState title={data.total === 0 ? "No active sessions" : "No session matches"}>
                  {data.total === 0
                    ? "Open connections through any relay appear here within a heartbeat."
                    : "Change the search or the filters."}
                </EmptyState>
              ) : (
                <div className="table-wrap">
                  <table className="table" aria-label="Active sessions">
                    <thead>
                      <tr>
                        <th scope="col">User</th>
                        <th scope="col">Destination</th>
                        <th scope="col">Node</th>
                        <th scope="col">Client</th>
                        <th scope="col" className="num">
                          Up
                        </th>
                        <th scope="col" className="num">
                          Down
                        </th>
                        <th scope="col" className="num">
                          Duration
                        </th>
                        <th scope="col">
                          <span className="visually-hidden">Actions</span>
                        </th>
                      </tr>
                    </thead>
                    <tbody>
                      {pageRows.map((row) => (
                        <tr key={row.id} data-session-id={row.id}>
                          <td>
                            <strong>{row.user}</strong>
                            <div className="cell-sub">
                              {row.command ?? "handshake"} · {row.transport}
                            </div>
                          </td>
                          <td className="truncate" title={row.destinationHost ?? ""}>
                            {formatEndpoint(row.destinationHost, row.destinationPort)}
                            {row.destinationAddress &&
                            row.destinationAddress !== row.destinationHost ? (
                              <div className="cell-sub">{row.destinationAddress}</div>
                            ) : null}
                          </td>
                          <td>
                            {row.node}
                            <div className="cell-sub">{row.region}</div>
                          </td>
                          <td className="nowrap">
                            {formatEndpoint(row.clientAddress, row.clientPort)}
                          </td>
                          <td className="num">{formatBytes(row.bytesUp)}</td>
                          <td className="num">{formatBytes(row.bytesDown)}</td>
                          <td className="num nowrap">
                            {formatDuration(Math.max(0, now - Date.parse(row.startedAt)))}
                          </td>
                          <td className="actions">
                            <Button
                              size="sm"
                              variant="danger"
                              write
                              onClick={() => {
                                terminate.reset();
                                setTarget(row);
                              }}
                              aria-label={`Terminate session of ${row.user} to ${row.destinationHost ?? "unknown"}`}
                            >
                              Terminate
                            </Button>
                          </td>
                        </tr>
                      ))}
                    </tbody>
                  </table>
                </div>
              )}
            </>
          )}
        </QueryView>
      </Card>
      <ConfirmDialog
        open={target !== null}
        title="Terminate this session?"
        confirmLabel="Terminate"
        danger
        busy={terminate.isPending}
        error={terminate.isError ? errorText(terminate.error) : null}
        onClose={() => setTarget(null)}
        onConfirm={() => target && terminate.mutate(target)}
      >
        {target ? (
          <p>
            <Badge>{target.node}</Badge> closes the connection of <strong>{target.user}</strong> to{" "}
            <code>{formatEndpoint(target.destinationHost, target.destinationPort)}</code> at once
            and records it as terminated by you.
          </p>
        ) : null}
      </ConfirmDialog>
    </div>
  );
}
