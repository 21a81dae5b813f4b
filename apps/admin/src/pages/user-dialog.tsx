import { useMutation, useQueryClient } from "@tanstack/react-query";
import { type FormEvent, useState } from "react";
import { useCanWrite } from "../components/access";
import { Button } from "../components/button";
import { Dialog } from "../components/dialog";
import { Checkbox, Field, Input } from "../components/field";
import { QosFields } from "../components/qos-fields";
import { useToast } from "../components/toast";
import { errorText } from "../lib/api";
import type { Group, User } from "../lib/api-types";
import { useApi } from "../lib/auth";
import {
  limitError,
  nameError,
  parseLimit,
  parseQosDraft,
  type QosErrors,
  qosDraft,
} from "../lib/principal-form";
import { keys } from "../lib/query-keys";

/** Creates a user (user === null) or edits one: name, groups, limits, bandwidth, enabled. */
export function UserDialog({
  open,
  user,
  groups,
  onClose,
}: {
  open: boolean;
  user: User | null;
  groups: readonly Group[];
  onClose: () => void;
}) {
  return (
    <Dialog
      open={open}
      title={user ? `Edit user ${user.username}` : "New user"}
      onClose={onClose}
      wide
    >
      <UserForm key={user?.username ?? "new"} user={user} groups={groups} onDone={onClose} />
    </Dialog>
  );
}

function UserForm({
  user,
  groups,
  onDone,
}: {
  user: User | null;
  groups: readonly Group[];
  onDone: () => void;
}) {
  const api = useApi();
  const notify = useToast();
  const canWrite = useCanWrite();
  const queryClient = useQueryClient();
  const [username, setUsername] = useState(user?.username ?? "");
  const [password, setPassword] = useState("");
  const [enabled, setEnabled] = useState(user?.enabled ?? true);
  const [memberOf, setMemberOf] = useState<string[]>(user?.groups ?? []);
  const [maxConnections, setMaxConnections] = useState(
    user?.maxConnections == null ? "" : String(user.maxConnections),
  );
  const [qos, setQos] = useState(qosDraft(user?.qos));
  const [errors, setErrors] = useState<{
    username?: string;
    maxConnections?: string;
    qos: QosErrors;
  }>({
    qos: {},
  });

  const save = useMutation({
    mutationFn: async () => {
      const parsedQos = parseQosDraft(qos);
      const usernameProblem = nameError(username, "Username");
      const limitProblem = limitError(maxConnections);
      setErrors({
        ...(usernameProblem ? { username: usernameProblem } : {}),
        ...(limitProblem ? { maxConnections: limitProblem } : {}),
        qos: parsedQos.ok ? {} : parsedQos.errors,
      });
      if (usernameProblem || limitProblem || !parsedQos.ok) return null;
      const fields = {
        enabled,
        groups: memberOf,
        maxConnections: parseLimit(maxConnections),
        qos: parsedQos.qos,
      };
      if (user === null) {
        return api.users.create.mutate({
          username: username.trim(),
          ...(password === "" ? {} : { password }),
          ...fields,
        });
      }
      return api.users.update.mutate({
        username: user.username,
        patch: {
          ...fields,
          ...(username.trim() !== user.username ? { username: username.trim() } : {}),
        },
      });
    },
    onSuccess: (result) => {
      if (result === null) return;
      notify(
        `${user ? "Saved" : "Created"} user ${result.user.username} (version ${result.version})`,
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
    <form
      className="form"
      onSubmit={submit}
      noValidate
      aria-label={user ? "Edit user" : "New user"}
    >
      <fieldset className="form" disabled={!canWrite}>
        <div className="form-row">
          <Field label="Username" error={errors.username}>
            {(c) => (
              <Input
                {...c}
                name="username"
                value={username}
                autoComplete="off"
                onChange={(e) => setUsername(e.target.value)}
              />
            )}
          </Field>
          {user === null ? (
            <Field label="Password" hint="For SOCKS5 username/password auth; hashed with argon2id">
              {(c) => (
                <Input
                  {...c}
                  name="password"
                  type="password"
                  autoComplete="new-password"
                  value={password}
                  onChange={(e) => setPassword(e.target.value)}
                />
              )}
            </Field>
          ) : null}
          <Field
            label="Max connections"
            hint="Empty: no per-user limit"
            error={errors.maxConnections}
          >
            {(c) => (
              <Input
                {...c}
                name="maxConnections"
                inputMode="numeric"
                value={maxConnections}
                onChange={(e) => setMaxConnections(e.target.value)}
              />
            )}
          </Field>
        </div>
        <Checkbox
          label="Enabled (can connect)"
          checked={enabled}
          onChange={(e) => setEnabled(e.target.checked)}
        />
        <fieldset>
          <legend className="field-label" style={{ marginBottom: 6 }}>
            Groups
          </legend>
          {groups.length === 0 ? (
            <span className="muted">No groups yet. Create one on the Groups tab.</span>
          ) : (
            <div className="checks">
              {groups.map((g) => (
                <Checkbox
                  key={g.name}
                  label={g.name}
                  checked={memberOf.includes(g.name)}
                  onChange={(e) =>
                    setMemberOf((list) =>
                      e.target.checked ? [...list, g.name] : list.filter((n) => n !== g.name),
                    )
                  }
                />
              ))}
            </div>
          )}
        </fieldset>
        <QosFields value={qos} errors={errors.qos} onChange={setQos} />
      </fieldset>
      {save.isError ? (
        <div className="notice notice-error" role="alert">
          {errorText(save.error)}
        </div>
      ) : null}
      <div className="form-actions">
        <Button onClick={onDone}>Cancel</Button>
        <Button type="submit" variant="primary" write busy={save.isPending}>
          {user ? "Save" : "Create user"}
        </Button>
      </div>
    </form>
  );
}

export function PasswordDialog({ user, onClose }: { user: User | null; onClose: () => void }) {
  const api = useApi();
  const notify = useToast();
  const queryClient = useQueryClient();
  const [password, setPassword] = useState("");
  const [error, setError] = useState<string | null>(null);
  const reset = useMutation({
    mutationFn: (patch: { password?: string; clearPassword?: boolean }) =>
      api.users.update.mutate({ username: user!.username, patch }),
    onSuccess: (result, patch) => {
      notify(
        `${patch.clearPassword ? "Removed the password of" : "New password for"} ${result.user.username} (version ${result.version})`,
      );
      setPassword("");
      void queryClient.invalidateQueries({ queryKey: keys.users.list() });
      onClose();
    },
  });
  return (
    <Dialog
      open={user !== null}
      title={`Reset password of ${user?.username ?? ""}`}
      onClose={onClose}
    >
      <form
        className="form"
        noValidate
        onSubmit={(event) => {
          event.preventDefault();
          if (password === "") {
            setError("Enter the new password");
            return;
          }
          setError(null);
          reset.mutate({ password });
        }}
      >
        <Field label="New password" error={error}>
          {(c) => (
            <Input
              {...c}
              type="password"
              autoComplete="new-password"
              value={password}
              onChange={(e) => setPassword(e.target.value)}
            />
          )}
        </Field>
        {reset.isError ? (
          <div className="notice notice-error" role="alert">
            {errorText(reset.error)}
          </div>
        ) : null}
        <div className="form-actions">
          {user?.hasPassword ? (
            <Button variant="danger" write onClick={() => reset.mutate({ clearPassword: true })}>
              Remove password
            </Button>
          ) : null}
          <Button onClick={onClose}>Cancel</Button>
          <Button type="submit" variant="primary" write busy={reset.isPending}>
            Set password
          </Button>
        </div>
      </form>
    </Dialog>
  );
}
