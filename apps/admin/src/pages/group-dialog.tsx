import { useMutation, useQueryClient } from "@tanstack/react-query";
import { type FormEvent, useState } from "react";
import { useCanWrite } from "../components/access";
import { Button } from "../components/button";
import { Dialog } from "../components/dialog";
import { Field, Input } from "../components/field";
import { QosFields } from "../components/qos-fields";
import { useToast } from "../components/toast";
import { errorText } from "../lib/api";
import type { Group } from "../lib/api-types";
import { useApi } from "../lib/auth";
import {
  limitError,
  nameError,
  parseLimit,
  parseQosDraft,
  type QosErrors,
  qosDraft,
} from "../lib/principal-form";

export function GroupDialog({
  open,
  group,
  onClose,
}: {
  open: boolean;
  group: Group | null;
  onClose: () => void;
}) {
  return (
    <Dialog
      open={open}
      title={group ? `Edit group ${group.name}` : "New group"}
      onClose={onClose}
      wide
    >
      <GroupForm key={group?.name ?? "new"} group={group} onDone={onClose} />
    </Dialog>
  );
}

function GroupForm({ group, onDone }: { group: Group | null; onDone: () => void }) {
  const api = useApi();
  const notify = useToast();
  const canWrite = useCanWrite();
  const queryClient = useQueryClient();
  const [name, setName] = useState(group?.name ?? "");
  const [limit, setLimit] = useState(
    group?.maxConnectionsPerUser == null ? "" : String(group.maxConnectionsPerUser),
  );
  const [qos, setQos] = useState(qosDraft(group?.qos));
  const [errors, setErrors] = useState<{ name?: string; limit?: string; qos: QosErrors }>({
    qos: {},
  });
  const save = useMutation({
    mutationFn: async () => {
      const parsedQos = parseQosDraft(qos);
      const nameProblem = nameError(name, "Name");
      const limitProblem = limitError(limit);
      setErrors({
        ...(nameProblem ? { name: nameProblem } : {}),
        ...(limitProblem ? { limit: limitProblem } : {}),
        qos: parsedQos.ok ? {} : parsedQos.errors,
      });
      if (nameProblem || limitProblem || !parsedQos.ok) return null;
      const fields = { maxConnectionsPerUser: parseLimit(limit), qos: parsedQos.qos };
      if (group === null) return api.groups.create.mutate({ name: name.trim(), ...fields });
      return api.groups.update.mutate({
        name: group.name,
        patch: { ...fields, ...(name.trim() !== group.name ? { name: name.trim() } : {}) },
      });
    },
    onSuccess: (result) => {
      if (result === null) return;
      notify(
        `${group ? "Saved" : "Created"} group ${result.group.name} (version ${result.version})`,
      );
      void queryClient.invalidateQueries();
      onDone();
    },
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    save.mutate();
  };
  return (
    <form className="form" onSubmit={submit} noValidate>
      <fieldset className="form" disabled={!canWrite}>
        <div className="form-row">
          <Field label="Name" error={errors.name}>
            {(c) => (
              <Input
                {...c}
                name="group-name"
                value={name}
                onChange={(e) => setName(e.target.value)}
              />
            )}
          </Field>
          <Field label="Max connections per member" hint="Empty: no limit" error={errors.limit}>
            {(c) => (
              <Input
                {...c}
                inputMode="numeric"
                value={limit}
                onChange={(e) => setLimit(e.target.value)}
              />
            )}
          </Field>
        </div>
        <QosFields value={qos} errors={errors.qos} onChange={setQos} />
        {group ? (
          <p className="muted" style={{ margin: 0 }}>
            Members: {group.members.length > 0 ? group.members.join(", ") : "none"}. Change
            membership from a user's Edit dialog.
          </p>
        ) : null}
      </fieldset>
      {save.isError ? (
        <div className="notice notice-error" role="alert">
          {errorText(save.error)}
        </div>
      ) : null}
      <div className="form-actions">
        <Button onClick={onDone}>Cancel</Button>
        <Button type="submit" variant="primary" write busy={save.isPending}>
          {group ? "Save" : "Create group"}
        </Button>
      </div>
    </form>
  );
}
