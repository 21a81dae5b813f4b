import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { type FormEvent, useEffect, useState } from "react";
import { useCanWrite } from "../components/access";
import { Button } from "../components/button";
import { Badge, Card, PageHeader } from "../components/card";
import { CopyBlock } from "../components/copy-button";
import { Checkbox, Field, Input, Select } from "../components/field";
import { EmptyState, QueryView } from "../components/states";
import { useToast } from "../components/toast";
import { errorText } from "../lib/api";
import type { RouterOutputs } from "../lib/api-types";
import { useApi, useSession } from "../lib/auth";
import { formatDateTime } from "../lib/format";
import { limitError, parseLimit } from "../lib/principal-form";
import { keys } from "../lib/query-keys";
import { parseByteSize } from "../lib/session-filters";
import { AuthScopesCard } from "./auth-scopes-card";

export function SettingsPage() {
  return (
    <div className="page">
      <PageHeader
        title="Settings"
        description="How clients authenticate, fleet-wide limits, and who can use this console."
      />
      <div className="grid grid-2">
        <AuthCard />
        <QosCard />
      </div>
      <AuthScopesCard />
      <AdminsCard />
    </div>
  );
}

function AuthCard() {
  const api = useApi();
  const notify = useToast();
  const canWrite = useCanWrite();
  const queryClient = useQueryClient();
  const auth = useQuery({ queryKey: keys.auth.get(), queryFn: () => api.auth.get.query() });
  const users = useQuery({ queryKey: keys.users.list(), queryFn: () => api.users.list.query() });
  const [methods, setMethods] = useState<("none" | "userpass")[]>([]);
  const [anonymous, setAnonymous] = useState("");
  useEffect(() => {
    if (auth.data) {
      setMethods(auth.data.methods);
      setAnonymous(auth.data.anonymousUser);
    }
  }, [auth.data]);
  const save = useMutation({
    mutationFn: () => api.auth.update.mutate({ methods, anonymousUser: anonymous }),
    onSuccess: (result) => {
      notify(`Authentication saved (version ${result.version})`);
      void queryClient.invalidateQueries({ queryKey: keys.auth.get() });
    },
  });
  const toggle = (method: "none" | "userpass", on: boolean) =>
    setMethods((list) => (on ? [...new Set([...list, method])] : list.filter((m) => m !== method)));
  return (
    <Card title="Client authentication" description="SOCKS methods the relays offer.">
      <QueryView query={auth}>
        {() => (
          <form
            className="form"
            onSubmit={(e) => {
              e.preventDefault();
              save.mutate();
            }}
          >
            <fieldset className="form" disabled={!canWrite}>
              <div className="checks">
                <Checkbox
                  label="Username/password (RFC 1929)"
                  checked={methods.includes("userpass")}
                  onChange={(e) => toggle("userpass", e.target.checked)}
                />
                <Checkbox
                  label="No authentication"
                  checked={methods.includes("none")}
                  onChange={(e) => toggle("none", e.target.checked)}
                />
              </div>
              {methods.length === 0 ? (
                <span className="field-error">choose at least one method</span>
              ) : null}
              <Field
                label="Anonymous clients are evaluated as"
                hint="The user whose rules apply without authentication"
              >
                {(c) => (
                  <Select
                    {...c}
                    name="anonymousUser"
                    value={anonymous}
                    onChange={(e) => setAnonymous(e.target.value)}
                    options={[
                      ...(users.data ?? []).map((u) => ({ value: u.username, label: u.username })),
                      ...(users.data?.some((u) => u.username === anonymous)
                        ? []
                        : [{ value: anonymous, label: anonymous }]),
                    ]}
                  />
                )}
              </Field>
            </fieldset>
            {save.isError ? (
              <div className="notice notice-error">{errorText(save.error)}</div>
            ) : null}
            <div className="form-actions">
              <Button
                type="submit"
                variant="primary"
                write
                busy={save.isPending}
                disabled={methods.length === 0}
              >
                Save authentication
              </Button>
            </div>
          </form>
        )}
      </QueryView>
    </Card>
  );
}

type Qos = RouterOutputs["qos"]["get"];
const RATE_FIELDS = [
  { key: "globalBytesPerSec", label: "Fleet bandwidth per relay", hint: "bytes/s, e.g. 100M" },
  { key: "guaranteedBytesPerSec", label: "Guaranteed per user", hint: "bytes/s" },
  { key: "maxBytesPerSec", label: "Max per user", hint: "bytes/s" },
  { key: "burstBytes", label: "Burst", hint: "bytes" },
] as const;
const LIMIT_FIELDS = [
  { key: "maxConnectionsPerUser", label: "Connections per user" },
  { key: "maxConnectionsGlobal", label: "Connections per relay" },
  { key: "maxConnectionsPerClient", label: "Connections per client address" },
] as const;
type QosKey = (typeof RATE_FIELDS)[number]["key"] | (typeof LIMIT_FIELDS)[number]["key"];

function QosCard() {
  const api = useApi();
  const notify = useToast();
  const canWrite = useCanWrite();
  const queryClient = useQueryClient();
  const qos = useQuery({ queryKey: keys.qos.get(), queryFn: () => api.qos.get.query() });
  const [draft, setDraft] = useState<Record<QosKey, string>>({} as Record<QosKey, string>);
  const [enabled, setEnabled] = useState(false);
  const [fair, setFair] = useState(true);
  const [errors, setErrors] = useState<Partial<Record<QosKey, string>>>({});
  useEffect(() => {
    if (!qos.data) return;
    const data: Qos = qos.data;
    const text = (v: number | null) => (v === null ? "" : String(v));
    setDraft(
      Object.fromEntries(
        [...RATE_FIELDS, ...LIMIT_FIELDS].map((f) => [f.key, text(data[f.key])]),
      ) as Record<QosKey, string>,
    );
    setEnabled(data.enabled);
    setFair(data.fairSharing);
  }, [qos.data]);
  const save = useMutation({
    mutationFn: (input: Parameters<typeof api.qos.update.mutate>[0]) =>
      api.qos.update.mutate(input),
    onSuccess: (result) => {
      notify(`Limits saved (version ${result.version})`);
      void queryClient.invalidateQueries({ queryKey: keys.qos.get() });
    },
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    const next: Partial<Record<QosKey, string>> = {};
    const input: Record<string, number | boolean | null> = { enabled, fairSharing: fair };
    for (const f of RATE_FIELDS) {
      const text = (draft[f.key] ?? "").trim();
      const value = text === "" ? null : parseByteSize(text);
      if (text !== "" && (value === null || value < (f.key === "guaranteedBytesPerSec" ? 0 : 1))) {
        next[f.key] = `"${text}" is not a size (like 512k or 10M)`;
      }
      input[f.key] = value;
    }
    for (const f of LIMIT_FIELDS) {
      const problem = limitError(draft[f.key] ?? "");
      if (problem) next[f.key] = problem;
      else input[f.key] = parseLimit(draft[f.key] ?? "");
    }
    setErrors(next);
    if (Object.keys(next).length === 0) save.mutate(input);
  };
  return (
    <Card
      title="Fleet limits"
      description="Fleet defaults for bandwidth and connections. Limits set on a user or group always apply; Bandwidth shaping switches on only these defaults and the per-relay bandwidth."
    >
      <QueryView query={qos}>
        {() => (
          <form className="form" onSubmit={submit} noValidate>
            <fieldset className="form" disabled={!canWrite}>
              <div className="checks">
                <Checkbox
                  label="Bandwidth shaping"
                  checked={enabled}
                  onChange={(e) => setEnabled(e.target.checked)}
                />
                <Checkbox
                  label="Fair sharing"
                  checked={fair}
                  onChange={(e) => setFair(e.target.checked)}
                />
              </div>
              <div className="form-row">
                {RATE_FIELDS.map((f) => (
                  <Field key={f.key} label={f.label} hint={f.hint} error={errors[f.key]}>
                    {(c) => (
                      <Input
                        {...c}
                        value={draft[f.key] ?? ""}
                        placeholder="none"
                        onChange={(e) => setDraft({ ...draft, [f.key]: e.target.value })}
                      />
                    )}
                  </Field>
                ))}
              </div>
              <div className="form-row">
                {LIMIT_FIELDS.map((f) => (
                  <Field key={f.key} label={f.label} error={errors[f.key]}>
                    {(c) => (
                      <Input
                        {...c}
                        inputMode="numeric"
                        value={draft[f.key] ?? ""}
                        placeholder="no limit"
                        onChange={(e) => setDraft({ ...draft, [f.key]: e.target.value })}
                      />
                    )}
                  </Field>
                ))}
              </div>
            </fieldset>
            {save.isError ? (
              <div className="notice notice-error">{errorText(save.error)}</div>
            ) : null}
            <div className="form-actions">
              <Button type="submit" variant="primary" write busy={save.isPending}>
                Save limits
              </Button>
            </div>
          </form>
        )}
      </QueryView>
    </Card>
  );
}

function AdminsCard() {
  const api = useApi();
  const { canWrite } = useSession();
  const notify = useToast();
  const queryClient = useQueryClient();
  const admins = useQuery({
    queryKey: keys.admins.list(),
    enabled: canWrite,
    queryFn: () => api.admins.list.query(),
  });
  const [name, setName] = useState("");
  const [role, setRole] = useState<"admin" | "viewer">("viewer");
  const [nameError, setNameError] = useState<string | null>(null);
  const [issued, setIssued] = useState<{ who: string; token: string } | null>(null);
  const create = useMutation({
    mutationFn: () => api.admins.create.mutate({ name: name.trim(), role }),
    onSuccess: (result) => {
      setIssued({ who: result.name, token: result.token });
      setName("");
      void queryClient.invalidateQueries({ queryKey: keys.admins.list() });
    },
  });
  const newToken = useMutation({
    mutationFn: (who: string) =>
      api.admins.createToken.mutate({
        name: who,
        label: `console ${new Date().toISOString().slice(0, 10)}`,
      }),
    onSuccess: (result, who) => {
      setIssued({ who, token: result.token });
      void queryClient.invalidateQueries({ queryKey: keys.admins.list() });
    },
    onError: (error) => notify(errorText(error), "error"),
  });
  const revoke = useMutation({
    mutationFn: (id: number) => api.admins.revokeToken.mutate({ id }),
    onSuccess: (_r, id) => {
      notify(`Revoked token ${id}`);
      void queryClient.invalidateQueries({ queryKey: keys.admins.list() });
    },
    onError: (error) => notify(errorText(error), "error"),
  });
  if (!canWrite) {
    return (
      <Card title="Console access">
        <EmptyState title="Only admins manage console access">
          Viewer tokens cannot list or issue tokens.
        </EmptyState>
      </Card>
    );
  }
  return (
    <Card
      flush
      title="Console access"
      description="Admins change the policy; viewers see everything and change nothing."
    >
      <div className="card-body stack">
        <form
          className="filters"
          noValidate
          onSubmit={(e) => {
            e.preventDefault();
            if (name.trim() === "") {
              setNameError("a name, e.g. ops-viewer");
              return;
            }
            setNameError(null);
            create.mutate();
          }}
        >
          <Field label="Name" error={nameError}>
            {(c) => (
              <Input
                {...c}
                name="admin-name"
                value={name}
                onChange={(e) => setName(e.target.value)}
              />
            )}
          </Field>
          <Field label="Role">
            {(c) => (
              <Select
                {...c}
                name="admin-role"
                value={role}
                onChange={(e) => setRole(e.target.value as "admin" | "viewer")}
                options={[
                  { value: "viewer", label: "Viewer (read-only)" },
                  { value: "admin", label: "Admin" },
                ]}
              />
            )}
          </Field>
          <Button type="submit" variant="primary" write busy={create.isPending}>
            Add and issue token
          </Button>
        </form>
        {create.isError ? (
          <div className="notice notice-error">{errorText(create.error)}</div>
        ) : null}
        {issued ? (
          <div className="stack notice" data-testid="issued-token">
            <span>
              Token for <strong>{issued.who}</strong>, shown once:
            </span>
            <CopyBlock text={issued.token} label="New API token" />
          </div>
        ) : null}
      </div>
      <QueryView query={admins}>
        {(list) => (
          <div className="table-wrap">
            <table className="table" aria-label="Admins">
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col">Role</th>
                  <th scope="col">Tokens</th>
                  <th scope="col">
                    <span className="visually-hidden">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {list.map((a) => (
                  <tr key={a.name}>
                    <td>
                      <strong>{a.name}</strong>
                      <div className="cell-sub">since {formatDateTime(a.createdAt)}</div>
                    </td>
                    <td>
                      <Badge tone={a.role === "admin" ? "blue" : "yellow"}>{a.role}</Badge>
                    </td>
                    <td>
                      <div className="stack" style={{ gap: 4 }}>
                        {a.tokens.map((t) => (
                          <div key={t.id} className="row">
                            <span>
                              #{t.id} {t.label}
                            </span>
                            {t.revokedAt ? (
                              <Badge tone="red">revoked</Badge>
                            ) : (
                              <Button
                                size="sm"
                                variant="ghost"
                                write
                                onClick={() => revoke.mutate(t.id)}
                              >
                                Revoke
                              </Button>
                            )}
                          </div>
                        ))}
                      </div>
                    </td>
                    <td className="actions">
                      <Button size="sm" write onClick={() => newToken.mutate(a.name)}>
                        New token
                      </Button>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </QueryView>
    </Card>
  );
}
