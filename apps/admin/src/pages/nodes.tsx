import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { type FormEvent, useState } from "react";
import { useCanWrite } from "../components/access";
import { Button } from "../components/button";
import { Badge, Card, PageHeader, type Tone } from "../components/card";
import { CopyBlock } from "../components/copy-button";
import { ConfirmDialog, Dialog } from "../components/dialog";
import { Checkbox, Field, Input } from "../components/field";
import { EmptyState, QueryView } from "../components/states";
import { useToast } from "../components/toast";
import { errorText } from "../lib/api";
import type { NodeInfo } from "../lib/api-types";
import { useApi } from "../lib/auth";
import { formatAgo, formatBytes, formatCount } from "../lib/format";
import { keys } from "../lib/query-keys";
import { useNow } from "../lib/use-now";

const STATUS_TONE: Record<string, Tone> = {
  SYNCED: "green",
  STALE: "yellow",
  "NOT SENT": "gray",
  ERROR: "red",
};

const REFRESH_MS = 3_000;

function health(node: NodeInfo): { tone: Tone; label: string } {
  if (node.disabled) return { tone: "gray", label: "disabled" };
  if (!node.enrolled)
    return { tone: "gray", label: node.enrollmentPending ? "awaiting enrollment" : "not enrolled" };
  if (!node.online) return { tone: "red", label: "offline" };
  return node.watching
    ? { tone: "green", label: "online" }
    : { tone: "yellow", label: "online, not subscribed" };
}

export function NodesPage() {
  const api = useApi();
  const now = useNow(1000);
  const notify = useToast();
  const queryClient = useQueryClient();
  const [enrolling, setEnrolling] = useState<{ name: string; region: string } | "new" | null>(null);
  const [removing, setRemoving] = useState<NodeInfo | null>(null);
  const nodes = useQuery({
    queryKey: keys.nodes.list(),
    queryFn: () => api.nodes.list.query(),
    refetchInterval: REFRESH_MS,
  });
  const toggle = useMutation({
    mutationFn: (node: NodeInfo) =>
      node.disabled
        ? api.nodes.enable.mutate({ name: node.name })
        : api.nodes.disable.mutate({ name: node.name }),
    onSuccess: (node) => {
      notify(`${node.disabled ? "Disabled" : "Enabled"} ${node.name}`);
      void queryClient.invalidateQueries({ queryKey: keys.nodes.list() });
    },
    onError: (error) => notify(errorText(error), "error"),
  });
  const remove = useMutation({
    mutationFn: (node: NodeInfo) => api.nodes.remove.mutate({ name: node.name }),
    onSuccess: (node) => {
      notify(`Removed ${node.name}`);
      setRemoving(null);
      void queryClient.invalidateQueries({ queryKey: keys.nodes.list() });
    },
  });
  return (
    <div className="page">
      <PageHeader
        title="Nodes"
        description="Every relay in the fleet and the policy version it runs; refreshes every 3 s."
        actions={
          <Button variant="primary" write onClick={() => setEnrolling("new")}>
            Enroll a node
          </Button>
        }
      />
      <Card flush>
        <QueryView
          query={nodes}
          isEmpty={(list) => list.length === 0}
          empty={
            <EmptyState
              title="No nodes yet"
              action={
                <Button variant="primary" write onClick={() => setEnrolling("new")}>
                  Enroll a node
                </Button>
              }
            >
              Enroll a relay to give it a one-time token; it fetches the newest policy as soon as it
              connects.
            </EmptyState>
          }
        >
          {(list) => (
            <div className="table-wrap">
              <table className="table" aria-label="Nodes">
                <thead>
                  <tr>
                    <th scope="col">Node</th>
                    <th scope="col">Health</th>
                    <th scope="col">Config</th>
                    <th scope="col">Auth</th>
                    <th scope="col">Version</th>
                    <th scope="col">Last seen</th>
                    <th scope="col" className="num">
                      Active
                    </th>
                    <th scope="col" className="num">
                      Sessions
                    </th>
                    <th scope="col" className="num">
                      Traffic
                    </th>
                    <th scope="col" className="num">
                      Rejected
                    </th>
                    <th
                      scope="col"
                      className="num"
                      title="Session records the relay set aside: refused by the control plane or unreadable in its spool"
                    >
                      Quarantined
                    </th>
                    <th scope="col">
                      <span className="visually-hidden">Actions</span>
                    </th>
                  </tr>
                </thead>
                <tbody>
                  {list.map((n) => {
                    const h = health(n);
                    return (
                      <tr key={n.id} data-node={n.name}>
                        <td>
                          <strong>{n.name}</strong>
                          <div className="cell-sub">
                            {n.region}
                            {n.publicAddress ? ` · ${n.publicAddress}` : ""}
                            {n.softwareVersion ? ` · v${n.softwareVersion}` : ""}
                          </div>
                        </td>
                        <td>
                          <Badge tone={h.tone}>
                            <span className="dot" aria-hidden="true" /> {h.label}
                          </Badge>
                        </td>
                        <td>
                          <Badge tone={STATUS_TONE[n.configStatus]}>{n.configStatus}</Badge>
                          {n.rejectionReason ? (
                            <div
                              className="cell-sub"
                              style={{ color: "var(--red)", maxWidth: 280 }}
                            >
                              {n.rejectionReason}
                            </div>
                          ) : null}
                        </td>
                        <td data-testid="node-auth">
                          {n.authMethod ? (
                            <>
                              {n.authMethod.method}
                              <div className="cell-sub">
                                {n.authMethod.scope}
                                {n.authMethod.groupSource === "nss" ? " · groups from NSS" : ""}
                              </div>
                            </>
                          ) : (
                            <span className="cell-sub">policy methods</span>
                          )}
                        </td>
                        <td className="nowrap" data-testid="node-version">
                          {n.appliedVersion ?? "–"} / {n.newestVersion ?? "–"}
                          <div className="cell-sub">applied / newest</div>
                        </td>
                        <td className="nowrap">{formatAgo(n.lastSeenAt, now)}</td>
                        <td className="num">
                          {n.counters ? formatCount(n.counters.sessionsActive) : "–"}
                        </td>
                        <td className="num">
                          {n.counters ? formatCount(n.counters.sessionsTotal) : "–"}
                        </td>
                        <td className="num nowrap">
                          {n.counters ? (
                            <>
                              ↑ {formatBytes(n.counters.bytesUp)}
                              <div className="cell-sub">↓ {formatBytes(n.counters.bytesDown)}</div>
                            </>
                          ) : (
                            "–"
                          )}
                        </td>
                        <td className="num">
                          {n.counters ? formatCount(n.counters.rejectedTotal) : "–"}
                          {n.counters && n.counters.spoolBacklogBytes > 0 ? (
                            <div className="cell-sub">
                              spool {formatBytes(n.counters.spoolBacklogBytes)}
                            </div>
                          ) : null}
                        </td>
                        <td className="num" data-testid="node-quarantined">
                          {n.counters ? (
                            <span
                              style={
                                (n.counters.quarantinedRecords ?? 0) > 0
                                  ? { color: "var(--red)" }
                                  : undefined
                              }
                            >
                              {formatCount(n.counters.quarantinedRecords ?? 0)}
                            </span>
                          ) : (
                            "–"
                          )}
                        </td>
                        <td className="actions">
                          <div className="btn-group">
                            <Button
                              size="sm"
                              write
                              onClick={() => setEnrolling({ name: n.name, region: n.region })}
                            >
                              Re-enroll
                            </Button>
                            <Button
                              size="sm"
                              write
                              busy={toggle.isPending && toggle.variables?.name === n.name}
                              onClick={() => toggle.mutate(n)}
                            >
                              {n.disabled ? "Enable" : "Disable"}
                            </Button>
                            <Button
                              size="sm"
                              variant="danger"
                              write
                              onClick={() => {
                                remove.reset();
                                setRemoving(n);
                              }}
                            >
                              Remove
                            </Button>
                          </div>
                        </td>
                      </tr>
                    );
                  })}
                </tbody>
              </table>
            </div>
          )}
        </QueryView>
      </Card>
      <Dialog
        open={enrolling !== null}
        title={
          enrolling === "new" || enrolling === null
            ? "Enroll a node"
            : `Re-enroll ${enrolling.name}`
        }
        onClose={() => setEnrolling(null)}
        wide
      >
        <EnrollForm
          key={enrolling === "new" || enrolling === null ? "new" : enrolling.name}
          existing={enrolling === "new" ? null : enrolling}
          onDone={() => setEnrolling(null)}
        />
      </Dialog>
      <ConfirmDialog
        open={removing !== null}
        title={`Remove node ${removing?.name ?? ""}?`}
        confirmLabel="Remove node"
        danger
        busy={remove.isPending}
        error={remove.isError ? errorText(remove.error) : null}
        onClose={() => setRemoving(null)}
        onConfirm={() => removing && remove.mutate(removing)}
      >
        <p>
          Its token stops working at once and its connections close; its session history stays. To
          bring it back, enroll it again.
        </p>
      </ConfirmDialog>
    </div>
  );
}

const NODE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

function EnrollForm({
  existing,
  onDone,
}: {
  existing: { name: string; region: string } | null;
  onDone: () => void;
}) {
  const api = useApi();
  const canWrite = useCanWrite();
  const queryClient = useQueryClient();
  const [name, setName] = useState(existing?.name ?? "");
  const [region, setRegion] = useState(existing?.region ?? "");
  const [hours, setHours] = useState("24");
  const [replace, setReplace] = useState(existing !== null);
  const [addresses, setAddresses] = useState("");
  const [errors, setErrors] = useState<{
    name?: string;
    region?: string;
    hours?: string;
    addresses?: string;
  }>({});
  const addressList = addresses
    .split(",")
    .map((a) => a.trim())
    .filter((a) => a !== "");
  const enroll = useMutation({
    mutationFn: () =>
      api.nodes.enroll.mutate({
        name: name.trim(),
        region: region.trim(),
        expiresInSec: Math.round(Number(hours) * 3600),
        replace,
        publicAddresses: addressList.length > 0 ? addressList : null,
      }),
    onSuccess: () => void queryClient.invalidateQueries({ queryKey: keys.nodes.list() }),
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    const next: typeof errors = {};
    const rule = "letters, digits, . _ - (at most 63, starting with a letter or digit)";
    if (!NODE_NAME.test(name.trim())) next.name = rule;
    if (!NODE_NAME.test(region.trim())) next.region = rule;
    const h = Number(hours);
    if (!(h >= 1 / 60 && h <= 720)) next.hours = "between 0.02 (1 minute) and 720 hours";
    const badAddress = addressList.find(
      (a) => !/^(?:\[[0-9A-Fa-f:.]+\]|[^:[\]\s]+):\d{1,5}$/.test(a),
    );
    if (badAddress !== undefined) next.addresses = `"${badAddress}" is not HOST:PORT`;
    setErrors(next);
    if (Object.keys(next).length === 0) enroll.mutate();
  };

  if (enroll.isSuccess) {
    const { enrollmentToken, node } = enroll.data;
    const controlUrl = `${window.location.protocol === "https:" ? "wss" : "ws"}://${window.location.host}/trpc`;
    // The token goes in a file: a command line is visible to every local user in `ps`.
    const tokenFile = "/var/lib/edgesocks/enrollment-token";
    const command = [
      `(umask 077; echo '${enrollmentToken}' > ${tokenFile})\nedgesocks-relay`,
      `--control-url ${controlUrl}`,
      `--node-token-file ${tokenFile}`,
      `--region ${node.region}`,
      `--name ${node.name}`,
      "--state-dir /var/lib/edgesocks",
    ].join(" \\\n  ");
    return (
      <div className="stack" data-testid="enrollment-result">
        <div className="notice">
          <strong>{node.name}</strong> in <strong>{node.region}</strong> is ready. The token below
          is shown once and works once: the relay trades it for its own node token on first connect.
        </div>
        <div className="field">
          <span className="field-label">One-time enrollment token</span>
          <CopyBlock text={enrollmentToken} label="Enrollment token" />
        </div>
        <div className="field">
          <span className="field-label">Run on the relay host</span>
          <CopyBlock text={command} label="Relay command line" />
        </div>
        <div className="form-actions">
          <Button variant="primary" onClick={onDone}>
            Done
          </Button>
        </div>
      </div>
    );
  }
  return (
    <form className="form" onSubmit={submit} noValidate aria-label="Enroll a node">
      <fieldset className="form" disabled={!canWrite}>
        <div className="form-row">
          <Field label="Name" error={errors.name}>
            {(c) => (
              <Input
                {...c}
                name="node-name"
                value={name}
                placeholder="relay-eu-1"
                readOnly={existing !== null}
                onChange={(e) => setName(e.target.value)}
              />
            )}
          </Field>
          <Field label="Region" error={errors.region}>
            {(c) => (
              <Input
                {...c}
                name="node-region"
                value={region}
                placeholder="eu-west"
                onChange={(e) => setRegion(e.target.value)}
              />
            )}
          </Field>
          <Field label="Token valid for (hours)" error={errors.hours}>
            {(c) => (
              <Input
                {...c}
                inputMode="decimal"
                value={hours}
                onChange={(e) => setHours(e.target.value)}
              />
            )}
          </Field>
        </div>
        <Field
          label="Allowed public addresses (optional)"
          error={errors.addresses}
          hint="Comma-separated HOST:PORT the relay may announce for /proxy.pac; needed for loopback or link-local ones. Empty: any routable address."
        >
          {(c) => (
            <Input
              {...c}
              name="node-public-addresses"
              value={addresses}
              placeholder="relay-eu-1.example.com:1080"
              onChange={(e) => setAddresses(e.target.value)}
            />
          )}
        </Field>
        {existing ? (
          <Checkbox
            label="Replace: the node's current token stops working"
            checked={replace}
            onChange={(e) => setReplace(e.target.checked)}
          />
        ) : null}
      </fieldset>
      {enroll.isError ? (
        <div className="notice notice-error" role="alert">
          {errorText(enroll.error)}
        </div>
      ) : null}
      <div className="form-actions">
        <Button onClick={onDone}>Cancel</Button>
        <Button type="submit" variant="primary" write busy={enroll.isPending}>
          {existing ? "Re-enroll" : "Enroll"}
        </Button>
      </div>
    </form>
  );
}
