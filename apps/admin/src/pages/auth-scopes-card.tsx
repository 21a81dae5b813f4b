import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { type FormEvent, useState } from "react";
import { useCanWrite } from "../components/access";
import { Button } from "../components/button";
import { Badge, Card } from "../components/card";
import { Field, Input, Select } from "../components/field";
import { QueryView } from "../components/states";
import { useToast } from "../components/toast";
import { errorText } from "../lib/api";
import { useApi } from "../lib/auth";
import {
  GROUP_SOURCE_OPTIONS,
  METHOD_OPTIONS,
  type ScopeField,
  type ScopeKind,
  type ScopeRow,
  type SetScopeInput,
  scopeErrorField,
  scopeNameError,
  scopeRows,
} from "../lib/auth-scope-form";
import { keys } from "../lib/query-keys";

const SCOPE_OPTIONS = [
  { value: "region", label: "Region" },
  { value: "node", label: "Node" },
  { value: "fleet", label: "Fleet default" },
];

/**
 * Fleet mode: which SOCKS method each relay uses (node over region over the fleet default). PAM
 * and NSS are host-local, so a relay that cannot run its method is ERROR on the Nodes page.
 */
export function AuthScopesCard() {
  const api = useApi();
  const notify = useToast();
  const canWrite = useCanWrite();
  const queryClient = useQueryClient();
  const scopes = useQuery({ queryKey: keys.auth.scopes(), queryFn: () => api.auth.scopes.query() });
  const [scope, setScope] = useState<ScopeKind>("region");
  const [name, setName] = useState("");
  const [method, setMethod] = useState<NonNullable<SetScopeInput["method"]>>("userpass");
  const [groupSource, setGroupSource] = useState<"policy" | "nss">("policy");
  const [errors, setErrors] = useState<Partial<Record<ScopeField, string>>>({});
  const refresh = () => {
    void queryClient.invalidateQueries({ queryKey: keys.auth.scopes() });
    void queryClient.invalidateQueries({ queryKey: keys.nodes.list() });
  };
  const save = useMutation({
    mutationFn: (input: SetScopeInput) => api.auth.setScope.mutate(input),
    onSuccess: (result, input) => {
      notify(
        input.method === null
          ? `Removed the ${input.scope === "fleet" ? "fleet default" : `${input.scope} ${input.name} override`} (version ${result.version})`
          : `Auth method saved (version ${result.version})`,
      );
      if (input.method !== null) setName("");
      refresh();
    },
    onError: (error, input) => {
      const { field, message } = scopeErrorField(errorText(error));
      if (input.method === null) notify(message, "error");
      else setErrors({ [field]: message });
    },
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    const problem = scopeNameError(scope, name);
    setErrors(problem ? { name: problem } : {});
    if (problem) return;
    save.mutate({
      scope,
      ...(scope === "fleet" ? {} : { name: name.trim() }),
      method,
      groupSource,
    });
  };
  const remove = (row: ScopeRow) =>
    save.mutate({
      scope: row.scope,
      ...(row.name === null ? {} : { name: row.name }),
      method: null,
    });
  return (
    <Card
      flush
      title="Auth method by region and node"
      description="Fleet mode: the method each relay uses; a node's override wins over its region's, which wins over the fleet default. PAM and NSS run on each relay host with its own relay.toml settings."
    >
      <QueryView query={scopes}>
        {(data) => {
          const rows = scopeRows(data);
          return (
            <div className="table-wrap">
              <table className="table" aria-label="Auth method scopes">
                <thead>
                  <tr>
                    <th scope="col">Scope</th>
                    <th scope="col">Method</th>
                    <th scope="col">Groups from</th>
                    <th scope="col">
                      <span className="visually-hidden">Actions</span>
                    </th>
                  </tr>
                </thead>
                <tbody>
                  {data.default === null ? (
                    <tr data-scope="fleet">
                      <td>
                        <strong>Fleet default</strong>
                      </td>
                      <td colSpan={3} className="cell-sub">
                        none: relays without an override offer the methods above
                      </td>
                    </tr>
                  ) : null}
                  {rows.map((row) => (
                    <tr
                      key={`${row.scope}:${row.name ?? ""}`}
                      data-scope={row.name === null ? row.scope : `${row.scope}:${row.name}`}
                    >
                      <td>
                        <strong>{row.name ?? "Fleet default"}</strong>
                        {row.name === null ? null : <div className="cell-sub">{row.scope}</div>}
                      </td>
                      <td>
                        <Badge tone="blue">{row.method}</Badge>
                      </td>
                      <td>{row.groupSource}</td>
                      <td className="actions">
                        <Button
                          size="sm"
                          variant="ghost"
                          write
                          busy={
                            save.isPending &&
                            save.variables?.method === null &&
                            save.variables.scope === row.scope &&
                            (save.variables.name ?? null) === row.name
                          }
                          onClick={() => remove(row)}
                        >
                          Remove
                        </Button>
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          );
        }}
      </QueryView>
      <div className="card-body">
        <form className="form" onSubmit={submit} noValidate aria-label="Set an auth method">
          <fieldset className="form" disabled={!canWrite}>
            <div className="form-row">
              <Field label="Scope">
                {(c) => (
                  <Select
                    {...c}
                    name="scope-kind"
                    value={scope}
                    onChange={(e) => {
                      setScope(e.target.value as ScopeKind);
                      setErrors({});
                    }}
                    options={SCOPE_OPTIONS}
                  />
                )}
              </Field>
              <Field
                label="Region or node name"
                hint={scope === "fleet" ? "not used for the fleet default" : undefined}
                error={errors.name}
              >
                {(c) => (
                  <Input
                    {...c}
                    name="scope-name"
                    value={scope === "fleet" ? "" : name}
                    disabled={scope === "fleet"}
                    placeholder={scope === "node" ? "relay-eu-1" : "eu-west"}
                    onChange={(e) => setName(e.target.value)}
                  />
                )}
              </Field>
              <Field label="Method" error={errors.method}>
                {(c) => (
                  <Select
                    {...c}
                    name="scope-method"
                    value={method}
                    onChange={(e) => setMethod(e.target.value as typeof method)}
                    options={METHOD_OPTIONS}
                  />
                )}
              </Field>
              <Field label="Groups from" error={errors.groupSource}>
                {(c) => (
                  <Select
                    {...c}
                    name="scope-group-source"
                    value={groupSource}
                    onChange={(e) => setGroupSource(e.target.value as "policy" | "nss")}
                    options={GROUP_SOURCE_OPTIONS}
                  />
                )}
              </Field>
            </div>
          </fieldset>
          {errors.form ? (
            <div className="notice notice-error" role="alert">
              {errors.form}
            </div>
          ) : null}
          <div className="form-actions">
            <Button type="submit" variant="primary" write busy={save.isPending}>
              Set auth method
            </Button>
          </div>
        </form>
      </div>
    </Card>
  );
}
