import { useInfiniteQuery, useQuery } from "@tanstack/react-query";
import { type FormEvent, useEffect, useMemo, useState } from "react";
import { useSearchParams } from "react-router";
import { Button } from "../components/button";
import { Badge, Card, PageHeader, type Tone } from "../components/card";
import { Dialog } from "../components/dialog";
import { Checkbox, Field, Input, Select } from "../components/field";
import { EmptyState, ErrorState, Loading, QueryView } from "../components/states";
import { useToast } from "../components/toast";
import { errorText } from "../lib/api";
import type { HistoryInput, SessionRecord } from "../lib/api-types";
import { useApi } from "../lib/auth";
import { type CsvColumn, toCsv } from "../lib/csv";
import { downloadText } from "../lib/download";
import { formatBytes, formatDateTime, formatDuration, formatEndpoint } from "../lib/format";
import { keys } from "../lib/query-keys";
import {
  DEFAULT_HISTORY_FILTERS,
  filtersFromParams,
  filtersToParams,
  type HistoryFilters,
  historyInput,
  SESSION_STATUSES,
  type SortField,
} from "../lib/session-filters";

const PAGE_SIZE = 50;
/** CSV export fetches at most this many rows (the filtered set, in pages of 500). */
const CSV_MAX_ROWS = 100_000;

const STATUS_TONE: Record<string, Tone> = { closed: "green", failed: "yellow", rejected: "red" };

const CSV_COLUMNS: CsvColumn<SessionRecord>[] = [
  { header: "id", value: (s) => s.id },
  { header: "started_at", value: (s) => s.startedAt },
  { header: "ended_at", value: (s) => s.endedAt },
  { header: "duration_ms", value: (s) => s.durationMs },
  { header: "node", value: (s) => s.node },
  { header: "region", value: (s) => s.region },
  { header: "user", value: (s) => s.user },
  { header: "client_address", value: (s) => s.clientAddress },
  { header: "client_port", value: (s) => s.clientPort },
  { header: "protocol", value: (s) => s.protocol },
  { header: "command", value: (s) => s.command },
  { header: "destination_host", value: (s) => s.destinationHost },
  { header: "destination_address", value: (s) => s.destinationAddress },
  { header: "destination_port", value: (s) => s.destinationPort },
  { header: "destination_country", value: (s) => s.destinationCountry },
  { header: "client_country", value: (s) => s.clientCountry },
  { header: "bytes_up", value: (s) => s.bytesUp },
  { header: "bytes_down", value: (s) => s.bytesDown },
  { header: "packets_up", value: (s) => s.packetsUp },
  { header: "packets_down", value: (s) => s.packetsDown },
  { header: "status", value: (s) => s.status },
  { header: "decision", value: (s) => s.decision },
  { header: "rule_id", value: (s) => s.ruleId },
  { header: "close_reason", value: (s) => s.closeReason },
  { header: "count", value: (s) => s.count },
  { header: "route", value: (s) => s.route },
];

const SORTABLE: { field: SortField; label: string; numeric?: boolean }[] = [
  { field: "startedAt", label: "Started" },
  { field: "duration", label: "Duration", numeric: true },
  { field: "bytes", label: "Bytes", numeric: true },
];

export function HistoryPage() {
  const api = useApi();
  const notify = useToast();
  const [params, setParams] = useSearchParams();
  const applied = useMemo(() => filtersFromParams(params), [params]);
  const [draft, setDraft] = useState<HistoryFilters>(applied);
  useEffect(() => setDraft(applied), [applied]);
  const [errors, setErrors] = useState<ReturnType<typeof historyInput> | null>(null);
  // The time window is relative to when the filters were applied, so pages stay consistent.
  const [appliedAt, setAppliedAt] = useState(() => Date.now());
  const built = useMemo(() => historyInput(applied, appliedAt), [applied, appliedAt]);
  const input: HistoryInput | null = built.ok ? built.input : null;
  const selected = params.get("session");

  const history = useInfiniteQuery({
    queryKey: keys.sessions.history(input),
    enabled: input !== null,
    initialPageParam: null as string | null,
    queryFn: ({ pageParam }) =>
      api.sessions.history.query({ ...input!, limit: PAGE_SIZE, cursor: pageParam }),
    getNextPageParam: (last) => last.nextCursor,
  });
  const rows = history.data?.pages.flatMap((p) => p.items) ?? [];

  const apply = (next: HistoryFilters) => {
    const result = historyInput(next, Date.now());
    setErrors(result.ok ? null : result);
    if (!result.ok) return;
    setAppliedAt(Date.now());
    const out = filtersToParams(next);
    if (selected) out.set("session", selected);
    setParams(out);
  };
  const submit = (event: FormEvent) => {
    event.preventDefault();
    apply(draft);
  };
  const sortBy = (field: SortField) => {
    const direction =
      applied.sort === field ? (applied.direction === "desc" ? "asc" : "desc") : "desc";
    apply({ ...applied, sort: field, direction });
  };
  const openSession = (id: string | null) => {
    const next = new URLSearchParams(params);
    if (id === null) next.delete("session");
    else next.set("session", id);
    setParams(next);
  };

  const [exporting, setExporting] = useState(false);
  const exportCsv = async () => {
    if (input === null) return;
    setExporting(true);
    try {
      const all: SessionRecord[] = [];
      let cursor: string | null = null;
      do {
        const page = await api.sessions.history.query({ ...input, limit: 500, cursor });
        all.push(...page.items);
        cursor = page.nextCursor;
      } while (cursor !== null && all.length < CSV_MAX_ROWS);
      downloadText(
        `sessions-${new Date().toISOString().replace(/[:.]/g, "-")}.csv`,
        toCsv(CSV_COLUMNS, all),
      );
      notify(
        cursor === null
          ? `Exported ${all.length} sessions`
          : `Exported the first ${all.length} sessions (narrow the filters for the rest)`,
      );
    } catch (error) {
      notify(`Export failed: ${errorText(error)}`, "error");
    } finally {
      setExporting(false);
    }
  };

  const fieldErrors = errors && !errors.ok ? errors.errors : {};
  const set = (patch: Partial<HistoryFilters>) => setDraft((d) => ({ ...d, ...patch }));

  return (
    <div className="page">
      <PageHeader
        title="History"
        description="Ended sessions, accepted and rejected, as the relays recorded them."
        actions={
          <Button onClick={exportCsv} busy={exporting} disabled={input === null}>
            Export CSV
          </Button>
        }
      />
      <Card>
        <form className="stack" onSubmit={submit} aria-label="History filters">
          <div className="filters">
            <Field label="User">
              {(c) => (
                <Input {...c} value={draft.user} onChange={(e) => set({ user: e.target.value })} />
              )}
            </Field>
            <Field
              label="Destination"
              hint="host, *.domain, IP or CIDR"
              error={fieldErrors.destination}
            >
              {(c) => (
                <Input
                  {...c}
                  value={draft.destination}
                  placeholder="10.0.0.0/8"
                  onChange={(e) => set({ destination: e.target.value })}
                />
              )}
            </Field>
            <Field label="Country" hint="of the destination, e.g. DE" error={fieldErrors.country}>
              {(c) => (
                <Input
                  {...c}
                  value={draft.country}
                  maxLength={2}
                  onChange={(e) => set({ country: e.target.value })}
                />
              )}
            </Field>
            <Field label="Node">
              {(c) => (
                <Input {...c} value={draft.node} onChange={(e) => set({ node: e.target.value })} />
              )}
            </Field>
            <Field label="Region">
              {(c) => (
                <Input
                  {...c}
                  value={draft.region}
                  onChange={(e) => set({ region: e.target.value })}
                />
              )}
            </Field>
            <Field label="Min bytes" hint="e.g. 10k, 5M" error={fieldErrors.minBytes}>
              {(c) => (
                <Input
                  {...c}
                  value={draft.minBytes}
                  inputMode="text"
                  onChange={(e) => set({ minBytes: e.target.value })}
                />
              )}
            </Field>
          </div>
          <div className="filters">
            <Field label="Time">
              {(c) => (
                <Select
                  {...c}
                  value={draft.window}
                  onChange={(e) => set({ window: e.target.value as HistoryFilters["window"] })}
                  options={[
                    { value: "15m", label: "Last 15 minutes" },
                    { value: "1h", label: "Last hour" },
                    { value: "24h", label: "Last 24 hours" },
                    { value: "7d", label: "Last 7 days" },
                    { value: "30d", label: "Last 30 days" },
                    { value: "all", label: "All time" },
                    { value: "custom", label: "Custom range" },
                  ]}
                />
              )}
            </Field>
            {draft.window === "custom" ? (
              <>
                <Field label="From" error={fieldErrors.from}>
                  {(c) => (
                    <Input
                      {...c}
                      type="datetime-local"
                      value={draft.from}
                      onChange={(e) => set({ from: e.target.value })}
                    />
                  )}
                </Field>
                <Field label="To" error={fieldErrors.to}>
                  {(c) => (
                    <Input
                      {...c}
                      type="datetime-local"
                      value={draft.to}
                      onChange={(e) => set({ to: e.target.value })}
                    />
                  )}
                </Field>
              </>
            ) : null}
            <Field label="Decision">
              {(c) => (
                <Select
                  {...c}
                  value={draft.decision}
                  onChange={(e) => set({ decision: e.target.value as HistoryFilters["decision"] })}
                  options={[
                    { value: "", label: "Any" },
                    { value: "allow", label: "Allowed" },
                    { value: "block", label: "Blocked" },
                  ]}
                />
              )}
            </Field>
            <Field label="Command">
              {(c) => (
                <Select
                  {...c}
                  value={draft.command}
                  onChange={(e) => set({ command: e.target.value as HistoryFilters["command"] })}
                  options={[
                    { value: "", label: "Any" },
                    { value: "connect", label: "CONNECT" },
                    { value: "bind", label: "BIND" },
                    { value: "udp", label: "UDP ASSOCIATE" },
                  ]}
                />
              )}
            </Field>
            <fieldset className="field">
              <legend className="field-label">Status</legend>
              <div className="checks" style={{ minHeight: 34, alignItems: "center" }}>
                {SESSION_STATUSES.map((status) => (
                  <Checkbox
                    key={status}
                    label={status}
                    checked={draft.status.includes(status)}
                    onChange={(e) =>
                      set({
                        status: e.target.checked
                          ? [...draft.status, status]
                          : draft.status.filter((s) => s !== status),
                      })
                    }
                  />
                ))}
              </div>
            </fieldset>
          </div>
          <div className="form-actions">
            <Button
              onClick={() => {
                setDraft(DEFAULT_HISTORY_FILTERS);
                apply(DEFAULT_HISTORY_FILTERS);
              }}
            >
              Reset
            </Button>
            <Button type="submit" variant="primary">
              Apply filters
            </Button>
          </div>
        </form>
      </Card>
      <Card flush>
        {input === null ? (
          <EmptyState title="Fix the filters above" />
        ) : history.isPending ? (
          <Loading />
        ) : history.isError && rows.length === 0 ? (
          <ErrorState error={history.error} retry={() => void history.refetch()} />
        ) : rows.length === 0 ? (
          <EmptyState title="No sessions match">
            Widen the time window or clear some filters. Sessions appear here a few seconds after
            they end.
          </EmptyState>
        ) : (
          <>
            <div className="table-wrap">
              <table className="table" aria-label="Session history">
                <thead>
                  <tr>
                    {SORTABLE.slice(0, 1).map((s) => (
                      <SortHeader key={s.field} {...s} filters={applied} onSort={sortBy} />
                    ))}
                    <th scope="col">User</th>
                    <th scope="col">Destination</th>
                    <th scope="col">Node</th>
                    <th scope="col">Status</th>
                    {SORTABLE.slice(1).map((s) => (
                      <SortHeader key={s.field} {...s} filters={applied} onSort={sortBy} />
                    ))}
                  </tr>
                </thead>
                <tbody>
                  {rows.map((s) => (
                    <tr
                      key={s.id}
                      className="clickable"
                      data-session-id={s.id}
                      onClick={() => openSession(s.id)}
                    >
                      <td className="nowrap">
                        <button
                          type="button"
                          className="link-button"
                          onClick={(e) => {
                            e.stopPropagation();
                            openSession(s.id);
                          }}
                        >
                          {formatDateTime(s.startedAt)}
                        </button>
                      </td>
                      <td>{s.user}</td>
                      <td className="truncate" title={s.destinationHost ?? ""}>
                        {formatEndpoint(s.destinationHost, s.destinationPort)}
                        {s.destinationCountry ? (
                          <div className="cell-sub">{s.destinationCountry}</div>
                        ) : null}
                      </td>
                      <td>
                        {s.node ?? "–"}
                        <div className="cell-sub">{s.region}</div>
                      </td>
                      <td>
                        <Badge tone={STATUS_TONE[s.status]}>{s.status}</Badge>
                        {s.count > 1 ? (
                          <span title="connections in this record"> ×{s.count}</span>
                        ) : null}
                        <div className="cell-sub truncate" title={s.closeReason}>
                          {s.closeReason}
                        </div>
                      </td>
                      <td className="num nowrap">{formatDuration(s.durationMs)}</td>
                      <td className="num nowrap">{formatBytes(s.bytesUp + s.bytesDown)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
            <div className="load-more">
              {history.hasNextPage ? (
                <Button
                  onClick={() => void history.fetchNextPage()}
                  busy={history.isFetchingNextPage}
                >
                  Load more
                </Button>
              ) : (
                <span className="muted">{rows.length} sessions · end of the list</span>
              )}
            </div>
          </>
        )}
      </Card>
      <SessionDialog id={selected} onClose={() => openSession(null)} />
    </div>
  );
}

function SortHeader({
  field,
  label,
  numeric,
  filters,
  onSort,
}: {
  field: SortField;
  label: string;
  numeric?: boolean;
  filters: HistoryFilters;
  onSort: (field: SortField) => void;
}) {
  const active = filters.sort === field;
  const sort = active ? (filters.direction === "asc" ? "ascending" : "descending") : "none";
  return (
    <th scope="col" className={numeric ? "num" : undefined} aria-sort={sort}>
      <button type="button" className="sort-button" onClick={() => onSort(field)}>
        {label}
        <span aria-hidden="true">{active ? (filters.direction === "asc" ? "▲" : "▼") : "↕"}</span>
      </button>
    </th>
  );
}

function SessionDialog({ id, onClose }: { id: string | null; onClose: () => void }) {
  const api = useApi();
  const session = useQuery({
    queryKey: keys.sessions.get(id),
    enabled: id !== null,
    queryFn: () => api.sessions.get.query({ id: id! }),
  });
  return (
    <Dialog open={id !== null} title="Session" onClose={onClose} wide>
      <QueryView query={session}>
        {(s) => (
          <dl className="kv" data-testid="session-detail">
            <dt>Id</dt>
            <dd className="mono">{s.id}</dd>
            <dt>User</dt>
            <dd>{s.user}</dd>
            <dt>Status</dt>
            <dd>
              <Badge tone={STATUS_TONE[s.status]}>{s.status}</Badge> {s.closeReason}
            </dd>
            <dt>Connections</dt>
            <dd>{s.count}</dd>
            <dt>ACL decision</dt>
            <dd>
              {s.decision ?? "–"}
              {s.ruleId ? (
                <>
                  {" "}
                  by rule <code>{s.ruleId}</code>
                </>
              ) : null}
            </dd>
            <dt>Route</dt>
            <dd>{s.route ? <code>{s.route}</code> : "direct"}</dd>
            <dt>Node</dt>
            <dd>
              {s.node ?? "–"} ({s.region ?? "no region"})
            </dd>
            <dt>Client</dt>
            <dd>
              {formatEndpoint(s.clientAddress, s.clientPort)}
              {s.clientCountry ? ` (${s.clientCountry})` : ""}
            </dd>
            <dt>Protocol</dt>
            <dd>
              {s.protocol ?? "–"} over {s.transport}, {s.command ?? "no command"}
            </dd>
            <dt>Destination</dt>
            <dd>
              {formatEndpoint(s.destinationHost, s.destinationPort)}
              {s.destinationAddress ? ` → ${s.destinationAddress}` : ""}
              {s.destinationCountry ? ` (${s.destinationCountry})` : ""}
            </dd>
            <dt>Started</dt>
            <dd>{formatDateTime(s.startedAt)}</dd>
            <dt>Ended</dt>
            <dd>
              {formatDateTime(s.endedAt)} ({formatDuration(s.durationMs)})
            </dd>
            <dt>Up</dt>
            <dd>
              {formatBytes(s.bytesUp)} in {s.packetsUp} packets
            </dd>
            <dt>Down</dt>
            <dd>
              {formatBytes(s.bytesDown)} in {s.packetsDown} packets
            </dd>
            <dt>Ingested</dt>
            <dd>{formatDateTime(s.ingestedAt)}</dd>
          </dl>
        )}
      </QueryView>
    </Dialog>
  );
}
