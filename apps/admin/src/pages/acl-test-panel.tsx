import { COUNTRY_CODES, isIpAddress } from "@edgesocks/policy/validate";
import { useQuery } from "@tanstack/react-query";
import { type FormEvent, useId, useState } from "react";
import { Button } from "../components/button";
import { Badge, Card } from "../components/card";
import { Field, Input, Select } from "../components/field";
import { ErrorState, Loading } from "../components/states";
import type { RouterInputs, User } from "../lib/api-types";
import { useApi } from "../lib/auth";
import { keys } from "../lib/query-keys";

type TestInput = RouterInputs["acl"]["test"];

/** "Test a decision": what the relays would decide for one request, and which rule decides. */
export function AclTestPanel({ users }: { users: readonly User[] }) {
  const api = useApi();
  const listId = useId();
  const [form, setForm] = useState({
    user: "",
    destination: "",
    address: "",
    port: "443",
    protocol: "tcp",
    client: "",
    clientCountry: "",
    at: "",
  });
  const [errors, setErrors] = useState<Partial<Record<keyof typeof form, string>>>({});
  const [input, setInput] = useState<TestInput | null>(null);
  const result = useQuery({
    queryKey: keys.acl.test(input),
    enabled: input !== null,
    queryFn: () => api.acl.test.query(input!),
  });
  const set = (patch: Partial<typeof form>) => setForm((f) => ({ ...f, ...patch }));
  const submit = (event: FormEvent) => {
    event.preventDefault();
    const next: typeof errors = {};
    if (form.user.trim() === "") next.user = "which user is asking?";
    if (form.destination.trim() === "") next.destination = "a host name or IP address";
    if (form.address.trim() !== "" && !isIpAddress(form.address.trim()))
      next.address = "an IPv4 or IPv6 address";
    const port = Number(form.port);
    if (!/^[0-9]+$/.test(form.port.trim()) || port > 65535) next.port = "a port, 0-65535";
    const client = form.client.trim();
    if (client !== "" && !isIpAddress(client)) next.client = "an IPv4 or IPv6 address";
    const country = form.clientCountry.trim().toUpperCase();
    if (country !== "" && !COUNTRY_CODES.has(country))
      next.clientCountry = `${country} is not an ISO 3166-1 alpha-2 country code`;
    // datetime-local is the browser's wall clock; the API takes an instant.
    const atMs = form.at === "" ? null : new Date(form.at).getTime();
    if (atMs !== null && Number.isNaN(atMs)) next.at = "a date and time";
    setErrors(next);
    if (Object.keys(next).length > 0) return;
    setInput({
      user: form.user.trim(),
      destination: form.destination.trim(),
      ...(form.address.trim() === "" ? {} : { address: form.address.trim() }),
      port,
      protocol: form.protocol as "tcp" | "udp",
      ...(client === "" ? {} : { client }),
      ...(country === "" ? {} : { clientCountry: country }),
      ...(atMs === null ? {} : { at: new Date(atMs).toISOString() }),
    });
  };
  return (
    <Card
      title="Test a decision"
      description="Runs the request through the newest snapshot with the relays' own engine."
    >
      <form className="stack" onSubmit={submit} noValidate aria-label="Test a decision">
        <div className="filters">
          <Field label="User" error={errors.user}>
            {(c) => (
              <>
                <Input
                  {...c}
                  name="test-user"
                  list={listId}
                  value={form.user}
                  onChange={(e) => set({ user: e.target.value })}
                />
                <datalist id={listId}>
                  {users.map((u) => (
                    <option key={u.username} value={u.username} />
                  ))}
                </datalist>
              </>
            )}
          </Field>
          <Field label="Destination" error={errors.destination}>
            {(c) => (
              <Input
                {...c}
                name="test-destination"
                placeholder="example.com"
                value={form.destination}
                onChange={(e) => set({ destination: e.target.value })}
              />
            )}
          </Field>
          <Field
            label="Resolved address"
            hint="Optional, lets CIDR rules match a name"
            error={errors.address}
          >
            {(c) => (
              <Input
                {...c}
                name="test-address"
                value={form.address}
                onChange={(e) => set({ address: e.target.value })}
              />
            )}
          </Field>
          <Field label="Port" error={errors.port}>
            {(c) => (
              <Input
                {...c}
                name="test-port"
                inputMode="numeric"
                value={form.port}
                onChange={(e) => set({ port: e.target.value })}
              />
            )}
          </Field>
          <Field label="Protocol">
            {(c) => (
              <Select
                {...c}
                name="test-protocol"
                value={form.protocol}
                onChange={(e) => set({ protocol: e.target.value })}
                options={[
                  { value: "tcp", label: "TCP" },
                  { value: "udp", label: "UDP" },
                ]}
              />
            )}
          </Field>
          <Field label="Client address" hint="For rules with sources" error={errors.client}>
            {(c) => (
              <Input
                {...c}
                name="test-client"
                value={form.client}
                onChange={(e) => set({ client: e.target.value })}
              />
            )}
          </Field>
          <Field
            label="Client country"
            hint="For country:XX sources (relays look it up)"
            error={errors.clientCountry}
          >
            {(c) => (
              <Input
                {...c}
                name="test-client-country"
                maxLength={2}
                value={form.clientCountry}
                onChange={(e) => set({ clientCountry: e.target.value })}
              />
            )}
          </Field>
          <Field label="At" hint="For scheduled rules; empty: now" error={errors.at}>
            {(c) => (
              <Input
                {...c}
                name="test-at"
                type="datetime-local"
                step={1}
                value={form.at}
                onChange={(e) => set({ at: e.target.value })}
              />
            )}
          </Field>
          <Button type="submit" variant="primary">
            Test
          </Button>
        </div>
      </form>
      {input === null ? null : result.isPending ? (
        <Loading label="Deciding…" />
      ) : result.isError ? (
        <ErrorState error={result.error} />
      ) : (
        <div
          className="stack"
          style={{ marginTop: 16 }}
          aria-live="polite"
          data-testid="acl-test-result"
        >
          <div className="row">
            <Badge tone={result.data.decision.action === "allow" ? "green" : "red"}>
              {result.data.decision.action === "allow" ? "ALLOW" : "BLOCK"}
            </Badge>
            <span>
              {result.data.decision.ruleId ? (
                <>
                  decided by rule <code>{result.data.decision.ruleId}</code>
                </>
              ) : (
                "no rule matched: the default policy decided"
              )}{" "}
              <span className="muted">
                ({result.data.decision.reason}, version {result.data.version}, at {result.data.at})
              </span>
            </span>
          </div>
          {result.data.userKnown ? null : (
            <div className="notice notice-warn">
              {input.user} is not a user in this snapshot: the relays would refuse to authenticate
              it.
            </div>
          )}
          {result.data.considered.length > 0 ? (
            <div className="table-wrap">
              <table className="table" aria-label="Rules considered">
                <thead>
                  <tr>
                    <th scope="col">Rule</th>
                    <th scope="col">Action</th>
                    <th scope="col">Priority</th>
                    <th scope="col">Matched</th>
                  </tr>
                </thead>
                <tbody>
                  {result.data.considered.map((c) => (
                    <tr key={c.rule.id}>
                      <td>
                        <code>{c.rule.id}</code>
                      </td>
                      <td>{c.rule.action}</td>
                      <td>{c.rule.priority}</td>
                      <td>
                        {c.matched ? (
                          <Badge tone="blue">matched</Badge>
                        ) : (
                          <span className="muted">no</span>
                        )}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          ) : (
            <span className="muted">No rule applies to this user.</span>
          )}
        </div>
      )}
    </Card>
  );
}
