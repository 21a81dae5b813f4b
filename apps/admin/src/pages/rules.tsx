import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useMemo, useState } from "react";
import { useSearchParams } from "react-router";
import { useCanWrite } from "../components/access";
import { Button, Segmented } from "../components/button";
import { Badge, Card, PageHeader } from "../components/card";
import { ConfirmDialog } from "../components/dialog";
import { Field, Select } from "../components/field";
import { EmptyState, QueryView } from "../components/states";
import { useToast } from "../components/toast";
import { errorText } from "../lib/api";
import type { Rule } from "../lib/api-types";
import { useApi } from "../lib/auth";
import { keys } from "../lib/query-keys";
import { evaluationOrder, scheduleSummary } from "../lib/rule-form";
import { AclTestPanel } from "./acl-test-panel";
import { RuleDialog } from "./rule-dialog";

function parseOwner(text: string | null): { kind: "user" | "group"; name: string } | undefined {
  const match = text === null ? null : /^(user|group):(.+)$/.exec(text);
  return match ? { kind: match[1] as "user" | "group", name: match[2]! } : undefined;
}

export function RulesPage() {
  const api = useApi();
  const notify = useToast();
  const queryClient = useQueryClient();
  const [params, setParams] = useSearchParams();
  const owner = parseOwner(params.get("owner"));
  const [order, setOrder] = useState<"list" | "evaluation">("list");
  const [editing, setEditing] = useState<Rule | "new" | null>(null);
  const [deleting, setDeleting] = useState<Rule | null>(null);
  const rules = useQuery({ queryKey: keys.rules.list(), queryFn: () => api.rules.list.query({}) });
  const users = useQuery({ queryKey: keys.users.list(), queryFn: () => api.users.list.query() });
  const groups = useQuery({ queryKey: keys.groups.list(), queryFn: () => api.groups.list.query() });
  const move = useMutation({
    mutationFn: ({ rule, position }: { rule: Rule; position: number }) =>
      api.rules.update.mutate({ id: rule.id, patch: { position } }),
    onSuccess: (result) => {
      notify(
        `Moved ${result.rule.id} to position ${result.rule.position + 1} (version ${result.version})`,
      );
      void queryClient.invalidateQueries();
    },
    onError: (error) => notify(errorText(error), "error"),
  });
  const remove = useMutation({
    mutationFn: (rule: Rule) => api.rules.delete.mutate({ id: rule.id }),
    onSuccess: (result, rule) => {
      notify(`Deleted rule ${rule.id} (version ${result.version})`);
      setDeleting(null);
      void queryClient.invalidateQueries();
    },
  });

  const shown = useMemo(() => {
    const list = (rules.data ?? []).filter(
      (r) => owner === undefined || (r.owner.kind === owner.kind && r.owner.name === owner.name),
    );
    return order === "evaluation" ? evaluationOrder(list) : list;
  }, [rules.data, owner, order]);

  const ownerOptions = [
    { value: "", label: "All users and groups" },
    ...(users.data ?? []).map((u) => ({
      value: `user:${u.username}`,
      label: `User ${u.username}`,
    })),
    ...(groups.data ?? []).map((g) => ({ value: `group:${g.name}`, label: `Group ${g.name}` })),
  ];
  const total = rules.data?.length ?? 0;

  return (
    <div className="page">
      <PageHeader
        title="ACL rules"
        description="A matching block rule wins over any allow; among rules of one action, higher priority first; nothing matches → the default policy."
        actions={
          <Button variant="primary" write onClick={() => setEditing("new")}>
            New rule
          </Button>
        }
      />
      <AclSettingsCard />
      <Card
        flush
        title="Rules"
        actions={
          <>
            <Field label={<span className="visually-hidden">Owner</span>}>
              {(c) => (
                <Select
                  {...c}
                  value={owner ? `${owner.kind}:${owner.name}` : ""}
                  onChange={(e) =>
                    setParams(e.target.value === "" ? {} : { owner: e.target.value })
                  }
                  options={ownerOptions}
                />
              )}
            </Field>
            <Segmented
              label="Order"
              value={order}
              onChange={setOrder}
              options={[
                { value: "list", label: "List order" },
                { value: "evaluation", label: "Evaluation order" },
              ]}
            />
          </>
        }
      >
        <QueryView query={rules}>
          {() =>
            shown.length === 0 ? (
              <EmptyState
                title={owner ? `No rules for ${owner.kind} ${owner.name}` : "No rules yet"}
                action={
                  <Button write variant="primary" onClick={() => setEditing("new")}>
                    New rule
                  </Button>
                }
              >
                Without rules every request gets the default policy.
              </EmptyState>
            ) : (
              <div className="table-wrap">
                <table className="table" aria-label="ACL rules">
                  <thead>
                    <tr>
                      <th scope="col">#</th>
                      <th scope="col">Rule</th>
                      <th scope="col">Applies to</th>
                      <th scope="col">Action</th>
                      <th scope="col">Destinations</th>
                      <th scope="col">Ports</th>
                      <th scope="col">Proto</th>
                      <th scope="col">When and from where</th>
                      <th scope="col" className="num">
                        Priority
                      </th>
                      <th scope="col">
                        <span className="visually-hidden">Actions</span>
                      </th>
                    </tr>
                  </thead>
                  <tbody>
                    {shown.map((r) => (
                      <tr key={r.id} data-rule-id={r.id}>
                        <td className="muted">{r.position + 1}</td>
                        <td>
                          <code>{r.id}</code>
                          {r.description ? <div className="cell-sub">{r.description}</div> : null}
                        </td>
                        <td>
                          <span className="muted">{r.owner.kind}</span> {r.owner.name}
                        </td>
                        <td>
                          <Badge tone={r.action === "allow" ? "green" : "red"}>{r.action}</Badge>
                        </td>
                        <td className="mono">{r.destinations.join(", ")}</td>
                        <td className="mono">{r.ports.join(", ")}</td>
                        <td>{r.protocols.join(", ")}</td>
                        <td data-column="conditions">
                          <RuleConditions rule={r} />
                        </td>
                        <td className="num">{r.priority}</td>
                        <td className="actions">
                          <div className="btn-group">
                            <Button
                              size="sm"
                              variant="ghost"
                              write
                              disabled={r.position === 0 || move.isPending}
                              aria-label={`Move ${r.id} up`}
                              onClick={() => move.mutate({ rule: r, position: r.position - 1 })}
                            >
                              ↑
                            </Button>
                            <Button
                              size="sm"
                              variant="ghost"
                              write
                              disabled={r.position >= total - 1 || move.isPending}
                              aria-label={`Move ${r.id} down`}
                              onClick={() => move.mutate({ rule: r, position: r.position + 1 })}
                            >
                              ↓
                            </Button>
                            <Button size="sm" write onClick={() => setEditing(r)}>
                              Edit
                            </Button>
                            <Button
                              size="sm"
                              variant="danger"
                              write
                              onClick={() => {
                                remove.reset();
                                setDeleting(r);
                              }}
                            >
                              Delete
                            </Button>
                          </div>
                        </td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            )
          }
        </QueryView>
      </Card>
      <AclTestPanel users={users.data ?? []} />
      <RuleDialog
        open={editing !== null}
        rule={editing === "new" ? null : editing}
        owner={owner}
        users={users.data ?? []}
        groups={groups.data ?? []}
        onClose={() => setEditing(null)}
      />
      <ConfirmDialog
        open={deleting !== null}
        title={`Delete rule ${deleting?.id ?? ""}?`}
        confirmLabel="Delete rule"
        danger
        busy={remove.isPending}
        error={remove.isError ? errorText(remove.error) : null}
        onClose={() => setDeleting(null)}
        onConfirm={() => deleting && remove.mutate(deleting)}
      >
        <p>The relays stop applying it as soon as they receive the new version.</p>
      </ConfirmDialog>
    </div>
  );
}

/** A rule's sources and window in one cell: `from 10.20.0.0/16` over `mon-fri 09:00-17:00 (UTC)`. */
function RuleConditions({ rule }: { rule: Rule }) {
  const window = scheduleSummary(rule.schedule);
  if (rule.sources === null && window === null)
    return <span className="muted">any client, always</span>;
  return (
    <>
      {rule.sources === null ? null : (
        <div className="mono" data-condition="sources">
          from {rule.sources.join(", ")}
        </div>
      )}
      {window === null ? null : (
        <div className="cell-sub" data-condition="schedule">
          {window}
          {rule.closeAtWindowEnd ? " · closes at window end" : ""}
        </div>
      )}
    </>
  );
}

function AclSettingsCard() {
  const api = useApi();
  const notify = useToast();
  const canWrite = useCanWrite();
  const queryClient = useQueryClient();
  const settings = useQuery({
    queryKey: keys.acl.settings(),
    queryFn: () => api.acl.settings.query(),
  });
  const update = useMutation({
    mutationFn: (patch: { enabled?: boolean; defaultPolicy?: "allow" | "block" }) =>
      api.acl.updateSettings.mutate(patch),
    onSuccess: (result) => {
      notify(`ACL settings saved (version ${result.version})`);
      void queryClient.invalidateQueries({ queryKey: keys.acl.settings() });
    },
    onError: (error) => notify(errorText(error), "error"),
  });
  return (
    <Card>
      <QueryView query={settings}>
        {(acl) => (
          <div className="filters">
            <Field label="ACL enforcement">
              {(c) => (
                <Select
                  {...c}
                  disabled={!canWrite || update.isPending}
                  value={acl.enabled ? "on" : "off"}
                  onChange={(e) => update.mutate({ enabled: e.target.value === "on" })}
                  options={[
                    { value: "on", label: "Enabled" },
                    { value: "off", label: "Disabled (allow all)" },
                  ]}
                />
              )}
            </Field>
            <Field label="Default policy" hint="When no rule matches">
              {(c) => (
                <Select
                  {...c}
                  disabled={!canWrite || update.isPending}
                  value={acl.defaultPolicy}
                  onChange={(e) =>
                    update.mutate({ defaultPolicy: e.target.value as "allow" | "block" })
                  }
                  options={[
                    { value: "allow", label: "Allow" },
                    { value: "block", label: "Block" },
                  ]}
                />
              )}
            </Field>
          </div>
        )}
      </QueryView>
    </Card>
  );
}
