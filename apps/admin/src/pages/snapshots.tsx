import { useInfiniteQuery, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useEffect, useState } from "react";
import { Button } from "../components/button";
import { Badge, Card, PageHeader } from "../components/card";
import { ConfirmDialog } from "../components/dialog";
import { Field, Input, Select } from "../components/field";
import { EmptyState, ErrorState, Loading, QueryView } from "../components/states";
import { useToast } from "../components/toast";
import { errorText } from "../lib/api";
import type { SnapshotDiff, SnapshotMeta } from "../lib/api-types";
import { useApi } from "../lib/auth";
import { formatDateTime } from "../lib/format";
import { keys } from "../lib/query-keys";

export function SnapshotsPage() {
  const api = useApi();
  const notify = useToast();
  const queryClient = useQueryClient();
  const [rollbackTo, setRollbackTo] = useState<SnapshotMeta | null>(null);
  const list = useInfiniteQuery({
    queryKey: keys.snapshots.list(),
    initialPageParam: undefined as number | undefined,
    queryFn: ({ pageParam }) => api.snapshots.list.query({ limit: 25, before: pageParam }),
    getNextPageParam: (last) => last.nextBefore ?? undefined,
    refetchInterval: 5_000,
  });
  const versions = list.data?.pages.flatMap((p) => p.items) ?? [];
  const newest = versions[0]?.version;
  const [from, setFrom] = useState<number | null>(null);
  const [to, setTo] = useState<number | null>(null);
  // Default diff: the newest version against the one before it.
  useEffect(() => {
    if (to === null && newest !== undefined) {
      setTo(newest);
      setFrom(newest > 1 ? newest - 1 : newest);
    }
  }, [newest, to]);

  const rollback = useMutation({
    mutationFn: (version: number) => api.snapshots.rollback.mutate({ version }),
    onSuccess: (result) => {
      notify(`Rolled back to version ${result.restoredFrom}: published version ${result.version}`);
      setRollbackTo(null);
      setTo(result.version);
      setFrom(result.version - 1);
      void queryClient.invalidateQueries();
    },
  });

  return (
    <div className="page">
      <PageHeader
        title="Snapshots & audit"
        description="Every accepted change is a numbered policy snapshot. Compare any two, or roll back to one (which publishes a new version equal to it)."
      />
      <div className="grid grid-2">
        <Card flush title="Versions">
          {list.isPending ? (
            <Loading />
          ) : list.isError && versions.length === 0 ? (
            <ErrorState error={list.error} retry={() => void list.refetch()} />
          ) : versions.length === 0 ? (
            <EmptyState title="No snapshot published yet" />
          ) : (
            <>
              <div className="table-wrap">
                <table className="table" aria-label="Snapshot versions">
                  <thead>
                    <tr>
                      <th scope="col">Version</th>
                      <th scope="col">Change</th>
                      <th scope="col">By</th>
                      <th scope="col">
                        <span className="visually-hidden">Actions</span>
                      </th>
                    </tr>
                  </thead>
                  <tbody>
                    {versions.map((s) => (
                      <tr key={s.version} data-version={s.version}>
                        <td className="nowrap">
                          <strong>{s.version}</strong>{" "}
                          {s.version === newest ? <Badge tone="green">newest</Badge> : null}
                          <div className="cell-sub mono" title={s.hash}>
                            {s.hash.slice(0, 12)}
                          </div>
                        </td>
                        <td>
                          {s.summary}
                          <div className="cell-sub">{formatDateTime(s.createdAt)}</div>
                        </td>
                        <td>{s.createdBy}</td>
                        <td className="actions">
                          <div className="btn-group">
                            <Button
                              size="sm"
                              variant="ghost"
                              onClick={() => {
                                setFrom(s.version);
                                if (to === null || to === s.version) setTo(newest ?? s.version);
                              }}
                              aria-label={`Compare version ${s.version} with ${to ?? newest}`}
                            >
                              Compare
                            </Button>
                            <Button
                              size="sm"
                              write
                              disabled={s.version === newest}
                              onClick={() => {
                                rollback.reset();
                                setRollbackTo(s);
                              }}
                            >
                              Roll back
                            </Button>
                          </div>
                        </td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
              {list.hasNextPage ? (
                <div className="load-more">
                  <Button onClick={() => void list.fetchNextPage()} busy={list.isFetchingNextPage}>
                    Older versions
                  </Button>
                </div>
              ) : null}
            </>
          )}
        </Card>
        <DiffCard versions={versions} from={from} to={to} setFrom={setFrom} setTo={setTo} />
      </div>
      <AuditCard />
      <ConfirmDialog
        open={rollbackTo !== null}
        title={`Roll back to version ${rollbackTo?.version ?? ""}?`}
        confirmLabel="Roll back"
        busy={rollback.isPending}
        error={rollback.isError ? errorText(rollback.error) : null}
        onClose={() => setRollbackTo(null)}
        onConfirm={() => rollbackTo && rollback.mutate(rollbackTo.version)}
      >
        <p>
          Users, groups, rules and settings return to what they were in version{" "}
          {rollbackTo?.version} ({rollbackTo?.summary}). This publishes a new version that every
          relay applies; nothing is deleted from the history.
        </p>
      </ConfirmDialog>
    </div>
  );
}

function DiffCard({
  versions,
  from,
  to,
  setFrom,
  setTo,
}: {
  versions: readonly SnapshotMeta[];
  from: number | null;
  to: number | null;
  setFrom: (v: number) => void;
  setTo: (v: number) => void;
}) {
  const api = useApi();
  const diff = useQuery({
    queryKey: keys.snapshots.diff(from, to),
    enabled: from !== null && to !== null,
    queryFn: () => api.snapshots.diff.query({ from: from!, to: to! }),
  });
  const options = versions.map((v) => ({
    value: String(v.version),
    label: `v${v.version} · ${v.summary}`,
  }));
  return (
    <Card title="Compare versions">
      <div className="stack">
        <div className="form-row">
          <Field label="From">
            {(c) => (
              <Select
                {...c}
                name="diff-from"
                value={String(from ?? "")}
                onChange={(e) => setFrom(Number(e.target.value))}
                options={options}
              />
            )}
          </Field>
          <Field label="To">
            {(c) => (
              <Select
                {...c}
                name="diff-to"
                value={String(to ?? "")}
                onChange={(e) => setTo(Number(e.target.value))}
                options={options}
              />
            )}
          </Field>
        </div>
        {from === null || to === null ? (
          <EmptyState title="Pick two versions" />
        ) : (
          <QueryView query={diff}>{(d) => <DiffView diff={d} />}</QueryView>
        )}
      </div>
    </Card>
  );
}

function DiffList<T>({
  title,
  diff,
  name,
}: {
  title: string;
  diff: { added: T[]; removed: T[]; changed: { before: T; after: T }[] };
  name: (item: T) => string;
}) {
  if (diff.added.length + diff.removed.length + diff.changed.length === 0) return null;
  const json = (value: unknown) => JSON.stringify(value, null, 2);
  return (
    <section className="diff-section">
      <h3>{title}</h3>
      {diff.added.map((item) => (
        <div key={`+${name(item)}`} className="diff-item diff-added">
          <strong>+ {name(item)}</strong>
          <details>
            <summary className="muted">details</summary>
            <pre className="code">{json(item)}</pre>
          </details>
        </div>
      ))}
      {diff.removed.map((item) => (
        <div key={`-${name(item)}`} className="diff-item diff-removed">
          <strong>− {name(item)}</strong>
        </div>
      ))}
      {diff.changed.map((change) => (
        <div key={`~${name(change.after)}`} className="diff-item diff-changed">
          <strong>~ {name(change.after)}</strong>
          <ChangedFields before={change.before} after={change.after} />
        </div>
      ))}
    </section>
  );
}

function ChangedFields({ before, after }: { before: unknown; after: unknown }) {
  const b = (before ?? {}) as Record<string, unknown>;
  const a = (after ?? {}) as Record<string, unknown>;
  const keys = [...new Set([...Object.keys(b), ...Object.keys(a)])].filter(
    (k) => JSON.stringify(b[k]) !== JSON.stringify(a[k]),
  );
  return (
    <ul style={{ margin: "4px 0 0", paddingLeft: 18 }}>
      {keys.map((key) => (
        <li key={key}>
          <code>{key}</code>: <span className="mono">{JSON.stringify(b[key]) ?? "–"}</span> →{" "}
          <span className="mono">{JSON.stringify(a[key]) ?? "–"}</span>
        </li>
      ))}
    </ul>
  );
}

function DiffView({ diff }: { diff: SnapshotDiff }) {
  const settings = Object.entries(diff.settings);
  const empty =
    [diff.users, diff.groups, diff.rules].every(
      (d) => d.added.length + d.removed.length + d.changed.length === 0,
    ) &&
    settings.length === 0 &&
    !diff.rulesReordered;
  if (empty) {
    return <EmptyState title={`v${diff.from} and v${diff.to} have the same policy`} />;
  }
  return (
    <div data-testid="snapshot-diff">
      <DiffList title="Users" diff={diff.users} name={(u) => u.username} />
      <DiffList title="Groups" diff={diff.groups} name={(g) => g.name} />
      <DiffList
        title="Rules"
        diff={diff.rules}
        name={(r) => `${r.id} (${r.action} for ${r.owner.kind} ${r.owner.name})`}
      />
      {diff.rulesReordered ? <p className="muted">Rules were reordered.</p> : null}
      {settings.length > 0 ? (
        <section className="diff-section">
          <h3>Settings</h3>
          {settings.map(([key, change]) => (
            <div key={key} className="diff-item diff-changed">
              <strong>~ {key}</strong>
              <ChangedFields before={change.before} after={change.after} />
            </div>
          ))}
        </section>
      ) : null}
    </div>
  );
}

function AuditCard() {
  const api = useApi();
  const [actor, setActor] = useState("");
  const [action, setAction] = useState("");
  const audit = useInfiniteQuery({
    queryKey: keys.audit.list(actor.trim(), action.trim()),
    initialPageParam: null as number | null,
    queryFn: ({ pageParam }) =>
      api.audit.list.query({
        limit: 50,
        cursor: pageParam,
        ...(actor.trim() ? { actor: actor.trim() } : {}),
        ...(action.trim() ? { action: action.trim() } : {}),
      }),
    getNextPageParam: (last) => last.nextCursor,
    refetchInterval: 10_000,
  });
  const items = audit.data?.pages.flatMap((p) => p.items) ?? [];
  return (
    <Card
      flush
      title="Audit log"
      description="Every change made through the API: who, what, before and after."
      actions={
        <>
          <Field label={<span className="visually-hidden">Actor</span>}>
            {(c) => (
              <Input
                {...c}
                placeholder="Actor (exact)"
                value={actor}
                onChange={(e) => setActor(e.target.value)}
              />
            )}
          </Field>
          <Field label={<span className="visually-hidden">Action</span>}>
            {(c) => (
              <Input
                {...c}
                placeholder="Action, e.g. users.create"
                value={action}
                onChange={(e) => setAction(e.target.value)}
              />
            )}
          </Field>
        </>
      }
    >
      {audit.isPending ? (
        <Loading />
      ) : audit.isError && items.length === 0 ? (
        <ErrorState error={audit.error} retry={() => void audit.refetch()} />
      ) : items.length === 0 ? (
        <EmptyState title="No entries" />
      ) : (
        <>
          <div className="table-wrap">
            <table className="table" aria-label="Audit log">
              <thead>
                <tr>
                  <th scope="col">When</th>
                  <th scope="col">Who</th>
                  <th scope="col">Action</th>
                  <th scope="col">Target</th>
                  <th scope="col">Version</th>
                  <th scope="col">Change</th>
                </tr>
              </thead>
              <tbody>
                {items.map((entry) => (
                  <tr key={entry.id}>
                    <td className="nowrap">{formatDateTime(entry.at)}</td>
                    <td>{entry.actor}</td>
                    <td>
                      <code>{entry.action}</code>
                    </td>
                    <td>{entry.target}</td>
                    <td>{entry.snapshotVersion ?? "–"}</td>
                    <td>
                      {entry.before == null && entry.after == null ? (
                        <span className="muted">–</span>
                      ) : (
                        <details>
                          <summary>before / after</summary>
                          <div className="grid grid-2" style={{ marginTop: 6, gap: 8 }}>
                            <pre className="code">
                              {JSON.stringify(entry.before ?? null, null, 2)}
                            </pre>
                            <pre className="code">
                              {JSON.stringify(entry.after ?? null, null, 2)}
                            </pre>
                          </div>
                        </details>
                      )}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          {audit.hasNextPage ? (
            <div className="load-more">
              <Button onClick={() => void audit.fetchNextPage()} busy={audit.isFetchingNextPage}>
                Load more
              </Button>
            </div>
          ) : null}
        </>
      )}
    </Card>
  );
}
