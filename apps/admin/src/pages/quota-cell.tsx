import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { Button } from "../components/button";
import { Badge } from "../components/card";
import { useToast } from "../components/toast";
import { errorText } from "../lib/api";
import type { RouterOutputs } from "../lib/api-types";
import { useApi } from "../lib/auth";
import { formatBytes } from "../lib/format";
import { keys } from "../lib/query-keys";

type Quota = NonNullable<RouterOutputs["users"]["list"][number]["quota"]>;
export type QuotaUsage = RouterOutputs["quotas"]["usage"]["quotas"][number];

const PERIOD_TEXT: Record<Quota["period"], string> = {
  day: "per day",
  week: "per week",
  month: "per month",
  rolling_24h: "in any 24 h",
  rolling_7d: "in any 7 days",
  rolling_30d: "in any 30 days",
};

/** The fleet's use of every quota, refreshed with the relays' heartbeats. */
export function useQuotaUsage(): Map<string, QuotaUsage> {
  const api = useApi();
  const usage = useQuery({
    queryKey: keys.quotas.usage(),
    queryFn: () => api.quotas.usage.query(),
    refetchInterval: 5_000,
  });
  return new Map((usage.data?.quotas ?? []).map((q) => [q.subject, q]));
}

/** A user's or group's quota: used against the allowance, with reset and raise (×2) buttons. */
export function QuotaCell(props: {
  kind: "user" | "group";
  name: string;
  quota: Quota | null;
  usage: QuotaUsage | undefined;
}) {
  const { kind, name, quota, usage } = props;
  const api = useApi();
  const notify = useToast();
  const queryClient = useQueryClient();
  const done = (text: string) => {
    notify(text);
    void queryClient.invalidateQueries();
  };
  const reset = useMutation({
    mutationFn: () => api.quotas.reset.mutate({ kind, name }),
    onSuccess: (result) => done(`Reset the quota of ${name} (${result.nodesTold} relays told)`),
    onError: (error) => notify(errorText(error), "error"),
  });
  const raise = useMutation({
    mutationFn: (next: Quota) => api.quotas.set.mutate({ kind, name, quota: next }),
    onSuccess: (result) =>
      done(`Raised the quota of ${name} to ${formatBytes(result.quota?.bytes ?? 0)}`),
    onError: (error) => notify(errorText(error), "error"),
  });
  if (quota === null) return <span className="muted">none</span>;
  const used = usage?.usedBytes ?? 0;
  return (
    <div data-quota={`${kind}:${name}`}>
      <div>
        {formatBytes(used)} of {formatBytes(quota.bytes)} {PERIOD_TEXT[quota.period]}{" "}
        {usage?.exhausted ? <Badge tone="red">exhausted</Badge> : null}
      </div>
      <div className="cell-sub">
        counts {quota.direction}; once spent{" "}
        {quota.onExhaust === "close"
          ? "closes"
          : `throttles to ${formatBytes(quota.throttleBytesPerSec ?? 0)}/s`}
      </div>
      <div className="btn-group">
        <Button size="sm" write busy={reset.isPending} onClick={() => reset.mutate()}>
          Reset quota
        </Button>
        <Button
          size="sm"
          write
          busy={raise.isPending}
          onClick={() => raise.mutate({ ...quota, bytes: quota.bytes * 2 })}
        >
          Raise ×2
        </Button>
      </div>
    </div>
  );
}
