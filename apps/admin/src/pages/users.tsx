import { type UseQueryResult, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useMemo, useState } from "react";
import { Link, useSearchParams } from "react-router";
import { Button, Segmented } from "../components/button";
import { Badge, Card, PageHeader } from "../components/card";
import { ConfirmDialog } from "../components/dialog";
import { Checkbox, Field, Input } from "../components/field";
import { EmptyState, QueryView } from "../components/states";
import { useToast } from "../components/toast";
import { errorText } from "../lib/api";
import type { Group, QosOverride, User } from "../lib/api-types";
import { useApi } from "../lib/auth";
import { formatBytes } from "../lib/format";
import { keys } from "../lib/query-keys";
import { GroupDialog } from "./group-dialog";
import { QuotaCell, useQuotaUsage } from "./quota-cell";
import { PasswordDialog, UserDialog } from "./user-dialog";

function qosText(qos: QosOverride): string {
  const parts = [
    qos.guaranteedBytesPerSec !== null ? `≥ ${formatBytes(qos.guaranteedBytesPerSec)}/s` : null,
    qos.maxBytesPerSec !== null ? `≤ ${formatBytes(qos.maxBytesPerSec)}/s` : null,
    qos.burstBytes !== null ? `burst ${formatBytes(qos.burstBytes)}` : null,
  ].filter(Boolean);
  return parts.length > 0 ? parts.join(", ") : "inherit";
}

type Tab = "users" | "groups";

export function UsersPage() {
  const api = useApi();
  const [params, setParams] = useSearchParams();
  const tab: Tab = params.get("tab") === "groups" ? "groups" : "users";
  const users = useQuery({ queryKey: keys.users.list(), queryFn: () => api.users.list.query() });
  const groups = useQuery({ queryKey: keys.groups.list(), queryFn: () => api.groups.list.query() });
  return (
    <div className="page">
      <PageHeader
        title="Users & groups"
        description="Who may use the proxies, with their groups, connection limits and bandwidth."
        actions={
          <Segmented
            label="Show"
            value={tab}
            options={[
              { value: "users", label: `Users${users.data ? ` (${users.data.length})` : ""}` },
              { value: "groups", label: `Groups${groups.data ? ` (${groups.data.length})` : ""}` },
            ]}
            onChange={(next) => setParams(next === "users" ? {} : { tab: next })}
          />
        }
      />
      {tab === "users" ? (
        <UsersCard users={users} groups={groups.data ?? []} />
      ) : (
        <GroupsCard groups={groups} />
      )}
    </div>
  );
}

function UsersCard({ users, groups }: { users: UseQueryResult<User[]>; groups: readonly Group[] }) {
  const api = useApi();
  const notify = useToast();
  const queryClient = useQueryClient();
  const [search, setSearch] = useState("");
  const [editing, setEditing] = useState<User | "new" | null>(null);
  const [passwordFor, setPasswordFor] = useState<User | null>(null);
  const [deleting, setDeleting] = useState<User | null>(null);
  const quotaUsage = useQuotaUsage();
  const toggle = useMutation({
    mutationFn: (user: User) =>
      api.users.update.mutate({ username: user.username, patch: { enabled: !user.enabled } }),
    onSuccess: (result) => {
      notify(
        `${result.user.enabled ? "Enabled" : "Disabled"} ${result.user.username} (version ${result.version})`,
      );
      void queryClient.invalidateQueries({ queryKey: keys.users.list() });
    },
    onError: (error) => notify(errorText(error), "error"),
  });
  const remove = useMutation({
    mutationFn: (user: User) => api.users.delete.mutate({ username: user.username }),
    onSuccess: (result, user) => {
      notify(`Deleted ${user.username} (version ${result.version})`);
      setDeleting(null);
      void queryClient.invalidateQueries();
    },
  });
  const shown = useMemo(() => {
    const term = search.trim().toLowerCase();
    return (users.data ?? []).filter(
      (u) =>
        term === "" ||
        u.username.toLowerCase().includes(term) ||
        u.groups.some((g) => g.includes(term)),
    );
  }, [users.data, search]);

  return (
    <Card
      flush
      title="Users"
      actions={
        <>
          <Field label={<span className="visually-hidden">Search users</span>}>
            {(c) => (
              <Input
                {...c}
                type="search"
                placeholder="Search users or groups"
                value={search}
                onChange={(e) => setSearch(e.target.value)}
              />
            )}
          </Field>
          <Button variant="primary" write onClick={() => setEditing("new")}>
            New user
          </Button>
        </>
      }
    >
      <QueryView
        query={users}
        isEmpty={(list) => list.length === 0}
        empty={
          <EmptyState title="No users yet">
            Create the first user to let clients authenticate.
          </EmptyState>
        }
      >
        {() =>
          shown.length === 0 ? (
            <EmptyState title="No user matches" />
          ) : (
            <div className="table-wrap">
              <table className="table" aria-label="Users">
                <thead>
                  <tr>
                    <th scope="col">User</th>
                    <th scope="col">Status</th>
                    <th scope="col">Groups</th>
                    <th scope="col">Max conns</th>
                    <th scope="col">Bandwidth</th>
                    <th scope="col">Traffic quota</th>
                    <th scope="col">
                      <span className="visually-hidden">Actions</span>
                    </th>
                  </tr>
                </thead>
                <tbody>
                  {shown.map((u) => (
                    <tr key={u.username} data-user={u.username}>
                      <td>
                        <strong>{u.username}</strong>
                        <div className="cell-sub">
                          {u.hasPassword ? "password set" : "no password"}
                        </div>
                      </td>
                      <td>
                        {u.enabled ? (
                          <Badge tone="green">enabled</Badge>
                        ) : (
                          <Badge tone="red">disabled</Badge>
                        )}
                      </td>
                      <td>
                        <div className="tags">
                          {u.groups.length === 0 ? <span className="muted">–</span> : null}
                          {u.groups.map((g) => (
                            <Badge key={g} tone="blue">
                              {g}
                            </Badge>
                          ))}
                        </div>
                      </td>
                      <td>{u.maxConnections ?? <span className="muted">no limit</span>}</td>
                      <td className="cell-sub">{qosText(u.qos)}</td>
                      <td>
                        <QuotaCell
                          kind="user"
                          name={u.username}
                          quota={u.quota}
                          usage={quotaUsage.get(`user:${u.username}`)}
                        />
                      </td>
                      <td className="actions">
                        <div className="btn-group">
                          <Link
                            className="btn btn-sm btn-ghost"
                            to={`/rules?owner=user:${encodeURIComponent(u.username)}`}
                          >
                            Rules
                          </Link>
                          <Button size="sm" write onClick={() => setEditing(u)}>
                            Edit
                          </Button>
                          <Button size="sm" write onClick={() => setPasswordFor(u)}>
                            Password
                          </Button>
                          <Button
                            size="sm"
                            write
                            busy={toggle.isPending && toggle.variables?.username === u.username}
                            onClick={() => toggle.mutate(u)}
                          >
                            {u.enabled ? "Disable" : "Enable"}
                          </Button>
                          <Button
                            size="sm"
                            variant="danger"
                            write
                            onClick={() => {
                              remove.reset();
                              setDeleting(u);
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
      <UserDialog
        open={editing !== null}
        user={editing === "new" ? null : editing}
        groups={groups}
        onClose={() => setEditing(null)}
      />
      <PasswordDialog user={passwordFor} onClose={() => setPasswordFor(null)} />
      <ConfirmDialog
        open={deleting !== null}
        title={`Delete user ${deleting?.username ?? ""}?`}
        confirmLabel="Delete user"
        danger
        busy={remove.isPending}
        error={remove.isError ? errorText(remove.error) : null}
        onClose={() => setDeleting(null)}
        onConfirm={() => deleting && remove.mutate(deleting)}
      >
        <p>
          The user and the rules they own are removed in a new snapshot version; their open sessions
          are closed by the relays.
        </p>
      </ConfirmDialog>
    </Card>
  );
}

function GroupsCard({ groups }: { groups: UseQueryResult<Group[]> }) {
  const api = useApi();
  const notify = useToast();
  const queryClient = useQueryClient();
  const [editing, setEditing] = useState<Group | "new" | null>(null);
  const [deleting, setDeleting] = useState<Group | null>(null);
  const [force, setForce] = useState(false);
  const quotaUsage = useQuotaUsage();
  const remove = useMutation({
    mutationFn: (group: Group) => api.groups.delete.mutate({ name: group.name, force }),
    onSuccess: (result, group) => {
      notify(`Deleted group ${group.name} (version ${result.version})`);
      setDeleting(null);
      void queryClient.invalidateQueries();
    },
  });
  return (
    <Card
      flush
      title="Groups"
      actions={
        <Button variant="primary" write onClick={() => setEditing("new")}>
          New group
        </Button>
      }
    >
      <QueryView
        query={groups}
        isEmpty={(list) => list.length === 0}
        empty={
          <EmptyState title="No groups yet">
            Groups share rules, connection limits and bandwidth.
          </EmptyState>
        }
      >
        {(list) => (
          <div className="table-wrap">
            <table className="table" aria-label="Groups">
              <thead>
                <tr>
                  <th scope="col">Group</th>
                  <th scope="col">Members</th>
                  <th scope="col">Max conns per member</th>
                  <th scope="col">Bandwidth</th>
                  <th scope="col">Shared traffic quota</th>
                  <th scope="col">
                    <span className="visually-hidden">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {list.map((g) => (
                  <tr key={g.name} data-group={g.name}>
                    <td>
                      <strong>{g.name}</strong>
                    </td>
                    <td>
                      {g.members.length > 0 ? (
                        g.members.join(", ")
                      ) : (
                        <span className="muted">none</span>
                      )}
                    </td>
                    <td>{g.maxConnectionsPerUser ?? <span className="muted">no limit</span>}</td>
                    <td className="cell-sub">{qosText(g.qos)}</td>
                    <td>
                      <QuotaCell
                        kind="group"
                        name={g.name}
                        quota={g.quota}
                        usage={quotaUsage.get(`group:${g.name}`)}
                      />
                    </td>
                    <td className="actions">
                      <div className="btn-group">
                        <Link
                          className="btn btn-sm btn-ghost"
                          to={`/rules?owner=group:${encodeURIComponent(g.name)}`}
                        >
                          Rules
                        </Link>
                        <Button size="sm" write onClick={() => setEditing(g)}>
                          Edit
                        </Button>
                        <Button
                          size="sm"
                          variant="danger"
                          write
                          onClick={() => {
                            remove.reset();
                            setForce(false);
                            setDeleting(g);
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
        )}
      </QueryView>
      <GroupDialog
        open={editing !== null}
        group={editing === "new" ? null : editing}
        onClose={() => setEditing(null)}
      />
      <ConfirmDialog
        open={deleting !== null}
        title={`Delete group ${deleting?.name ?? ""}?`}
        confirmLabel="Delete group"
        danger
        busy={remove.isPending}
        error={remove.isError ? errorText(remove.error) : null}
        onClose={() => setDeleting(null)}
        onConfirm={() => deleting && remove.mutate(deleting)}
      >
        <div className="stack">
          <p style={{ margin: 0 }}>
            {deleting && deleting.members.length > 0
              ? `${deleting.members.length} users are members of this group.`
              : "This group has no members."}
          </p>
          <Checkbox
            label="Also remove the memberships and the group's rules"
            checked={force}
            onChange={(e) => setForce(e.target.checked)}
          />
        </div>
      </ConfirmDialog>
    </Card>
  );
}
