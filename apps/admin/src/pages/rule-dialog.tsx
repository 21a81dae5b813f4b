import { useMutation, useQueryClient } from "@tanstack/react-query";
import { type FormEvent, useState } from "react";
import { useCanWrite } from "../components/access";
import { Button } from "../components/button";
import { Dialog } from "../components/dialog";
import { Checkbox, Field, Input, Select, TextArea } from "../components/field";
import { useToast } from "../components/toast";
import { errorText } from "../lib/api";
import type { Group, Rule, User } from "../lib/api-types";
import { useApi } from "../lib/auth";
import {
  draftFromRule,
  emptyRuleDraft,
  type RuleDraft,
  type RuleErrors,
  type RuleField,
  ruleFieldError,
  ruleInputFromDraft,
  validateRuleDraft,
} from "../lib/rule-form";

// Suggestions only: the field accepts any zone the policy package's check accepts.
const TIME_ZONES: readonly string[] =
  typeof Intl.supportedValuesOf === "function" ? Intl.supportedValuesOf("timeZone") : ["UTC"];

export function RuleDialog({
  open,
  rule,
  owner,
  users,
  groups,
  onClose,
}: {
  open: boolean;
  rule: Rule | null;
  owner?: { kind: "user" | "group"; name: string } | undefined;
  users: readonly User[];
  groups: readonly Group[];
  onClose: () => void;
}) {
  return (
    <Dialog open={open} title={rule ? `Edit rule ${rule.id}` : "New rule"} onClose={onClose} wide>
      <RuleForm
        key={rule?.id ?? `new-${owner?.kind}-${owner?.name}`}
        rule={rule}
        owner={owner}
        users={users}
        groups={groups}
        onDone={onClose}
      />
    </Dialog>
  );
}

/** The rule editor: every field validated as it is typed, problems shown at the field. */
function RuleForm({
  rule,
  owner,
  users,
  groups,
  onDone,
}: {
  rule: Rule | null;
  owner: { kind: "user" | "group"; name: string } | undefined;
  users: readonly User[];
  groups: readonly Group[];
  onDone: () => void;
}) {
  const api = useApi();
  const notify = useToast();
  const canWrite = useCanWrite();
  const queryClient = useQueryClient();
  const [draft, setDraft] = useState<RuleDraft>(() =>
    rule
      ? draftFromRule(rule)
      : emptyRuleDraft(owner ?? (users[0] ? { kind: "user", name: users[0].username } : undefined)),
  );
  // Errors show once a field was left or the form submitted, then update as the operator types.
  const [touched, setTouched] = useState<Set<RuleField>>(new Set());
  const [errors, setErrors] = useState<RuleErrors>({});
  const update = (patch: Partial<RuleDraft>) => {
    const next = { ...draft, ...patch };
    setDraft(next);
    const nextErrors: RuleErrors = {};
    for (const field of touched) {
      const error = ruleFieldError(next, field);
      if (error !== null) nextErrors[field] = error;
    }
    setErrors(nextErrors);
  };
  const blur = (field: RuleField) => () => {
    setTouched((set) => new Set(set).add(field));
    const error = ruleFieldError(draft, field);
    setErrors((e) => {
      const next = { ...e };
      if (error === null) delete next[field];
      else next[field] = error;
      return next;
    });
  };

  const save = useMutation({
    mutationFn: () => {
      const input = ruleInputFromDraft(draft);
      if (rule === null) return api.rules.create.mutate(input);
      const { id: _id, ...patch } = input;
      return api.rules.update.mutate({ id: rule.id, patch });
    },
    onSuccess: (result) => {
      notify(`${rule ? "Saved" : "Created"} rule ${result.rule.id} (version ${result.version})`);
      void queryClient.invalidateQueries();
      onDone();
    },
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    const all = validateRuleDraft(draft);
    setErrors(all);
    setTouched(new Set(Object.keys(all) as RuleField[]));
    if (Object.keys(all).length > 0) return;
    save.mutate();
  };
  const owners =
    draft.ownerKind === "user" ? users.map((u) => u.username) : groups.map((g) => g.name);

  return (
    <form className="form" onSubmit={submit} noValidate aria-label="Rule editor">
      <fieldset className="form" disabled={!canWrite}>
        <div className="form-row">
          <Field label="Applies to">
            {(c) => (
              <Select
                {...c}
                name="ownerKind"
                value={draft.ownerKind}
                onChange={(e) => {
                  const kind = e.target.value as "user" | "group";
                  const first = kind === "user" ? users[0]?.username : groups[0]?.name;
                  update({ ownerKind: kind, ownerName: first ?? "" });
                }}
                options={[
                  { value: "user", label: "A user" },
                  { value: "group", label: "A group" },
                ]}
              />
            )}
          </Field>
          <Field label={draft.ownerKind === "user" ? "User" : "Group"} error={errors.ownerName}>
            {(c) => (
              <Select
                {...c}
                name="ownerName"
                value={draft.ownerName}
                onChange={(e) => update({ ownerName: e.target.value })}
                onBlur={blur("ownerName")}
                options={[
                  { value: "", label: `Choose a ${draft.ownerKind}` },
                  ...owners.map((name) => ({ value: name, label: name })),
                ]}
              />
            )}
          </Field>
          <Field label="Action">
            {(c) => (
              <Select
                {...c}
                name="action"
                value={draft.action}
                onChange={(e) => update({ action: e.target.value as "allow" | "block" })}
                options={[
                  { value: "allow", label: "Allow" },
                  { value: "block", label: "Block" },
                ]}
              />
            )}
          </Field>
        </div>
        <Field
          label="Destinations"
          hint="IP, CIDR (10.0.0.0/8), exact domain, *.domain, api.*.com or *; separate with commas or new lines"
          error={errors.destinations}
        >
          {(c) => (
            <TextArea
              {...c}
              name="destinations"
              rows={2}
              value={draft.destinations}
              spellCheck={false}
              onChange={(e) => update({ destinations: e.target.value })}
              onBlur={blur("destinations")}
            />
          )}
        </Field>
        <div className="form-row">
          <Field label="Ports" hint='"443", "8000-9000", "80, 443" or "*"' error={errors.ports}>
            {(c) => (
              <Input
                {...c}
                name="ports"
                value={draft.ports}
                spellCheck={false}
                onChange={(e) => update({ ports: e.target.value })}
                onBlur={blur("ports")}
              />
            )}
          </Field>
          <Field label="Protocol">
            {(c) => (
              <Select
                {...c}
                name="protocol"
                value={draft.protocol}
                onChange={(e) => update({ protocol: e.target.value as RuleDraft["protocol"] })}
                options={[
                  { value: "both", label: "TCP and UDP" },
                  { value: "tcp", label: "TCP" },
                  { value: "udp", label: "UDP" },
                ]}
              />
            )}
          </Field>
          <Field label="Priority" hint="Higher is considered first" error={errors.priority}>
            {(c) => (
              <Input
                {...c}
                name="priority"
                inputMode="numeric"
                value={draft.priority}
                onChange={(e) => update({ priority: e.target.value })}
                onBlur={blur("priority")}
              />
            )}
          </Field>
        </div>
        <Field
          label="Sources"
          hint="Clients the rule applies to: IP, CIDR or country:XX (the relay's GeoIP decides); empty: every client"
          error={errors.sources}
        >
          {(c) => (
            <TextArea
              {...c}
              name="sources"
              rows={1}
              value={draft.sources}
              spellCheck={false}
              onChange={(e) => update({ sources: e.target.value })}
              onBlur={blur("sources")}
            />
          )}
        </Field>
        <div className="form-row">
          <Field
            label="Days"
            hint="mon..sun or ranges: mon-fri, sun; empty: every day"
            error={errors.days}
          >
            {(c) => (
              <Input
                {...c}
                name="days"
                value={draft.days}
                spellCheck={false}
                onChange={(e) => update({ days: e.target.value })}
                onBlur={blur("days")}
              />
            )}
          </Field>
          <Field
            label="Times"
            hint="09:00-17:30, 22:00-06:00 (crosses midnight); empty: all day"
            error={errors.times}
          >
            {(c) => (
              <Input
                {...c}
                name="times"
                value={draft.times}
                spellCheck={false}
                onChange={(e) => update({ times: e.target.value })}
                onBlur={blur("times")}
              />
            )}
          </Field>
          <Field
            label="Time zone"
            hint="IANA, e.g. Europe/Berlin; empty: UTC"
            error={errors.timezone}
          >
            {(c) => (
              <Input
                {...c}
                name="timezone"
                list="rule-time-zones"
                value={draft.timezone}
                spellCheck={false}
                onChange={(e) => update({ timezone: e.target.value })}
                onBlur={blur("timezone")}
              />
            )}
          </Field>
          <datalist id="rule-time-zones">
            {TIME_ZONES.map((zone) => (
              <option key={zone} value={zone} />
            ))}
          </datalist>
        </div>
        <div className="field">
          <Checkbox
            name="closeAtWindowEnd"
            label="Close the sessions this rule allowed when its window ends"
            checked={draft.closeAtWindowEnd}
            onChange={(e) => update({ closeAtWindowEnd: e.target.checked })}
            onBlur={blur("closeAtWindowEnd")}
            aria-invalid={Boolean(errors.closeAtWindowEnd)}
          />
          {errors.closeAtWindowEnd ? (
            <span className="field-error" role="alert">
              {errors.closeAtWindowEnd}
            </span>
          ) : null}
        </div>
        <div className="form-row">
          <Field label="Route" hint="Upstream route (Routes page); empty: connect directly">
            {(c) => (
              <Input
                {...c}
                name="route"
                value={draft.route}
                onChange={(e) => update({ route: e.target.value })}
              />
            )}
          </Field>
        </div>
        <div className="form-row">
          <Field label="Description" error={errors.description}>
            {(c) => (
              <Input
                {...c}
                name="description"
                value={draft.description}
                onChange={(e) => update({ description: e.target.value })}
                onBlur={blur("description")}
              />
            )}
          </Field>
          {rule === null ? (
            <Field label="Rule id" hint="Optional; generated when empty" error={errors.id}>
              {(c) => (
                <Input
                  {...c}
                  name="id"
                  value={draft.id}
                  spellCheck={false}
                  onChange={(e) => update({ id: e.target.value })}
                  onBlur={blur("id")}
                />
              )}
            </Field>
          ) : null}
        </div>
      </fieldset>
      {save.isError ? (
        <div className="notice notice-error" role="alert">
          {errorText(save.error)}
        </div>
      ) : null}
      <div className="form-actions">
        <Button onClick={onDone}>Cancel</Button>
        <Button type="submit" variant="primary" write busy={save.isPending}>
          {rule ? "Save rule" : "Create rule"}
        </Button>
      </div>
    </form>
  );
}
