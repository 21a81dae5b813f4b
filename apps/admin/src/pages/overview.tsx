import { useQuery } from "@tanstack/react-query";
import { useState } from "react";
import { Segmented } from "../components/button";
import { Card, PageHeader, Stat } from "../components/card";
import { BarList, SplitBar, TimeSeriesChart } from "../components/charts";
import { EmptyState, ErrorState, Loading } from "../components/states";
import type { StatsSummary } from "../lib/api-types";
import { useApi } from "../lib/auth";
import { fillSeries } from "../lib/chart-scale";
import { formatBytes, formatCompact, formatCount, formatPercent } from "../lib/format";
import { keys } from "../lib/query-keys";
import { windowStart } from "../lib/session-filters";

const WINDOWS = [
  { value: "15m", label: "15 min" },
  { value: "1h", label: "1 hour" },
  { value: "24h", label: "24 hours" },
  { value: "7d", label: "7 days" },
] as const;
type Window = (typeof WINDOWS)[number]["value"];

const REFRESH_MS = 5_000;

function timeLabel(window: Window) {
  const format = new Intl.DateTimeFormat(
    undefined,
    window === "7d" ? { month: "short", day: "numeric" } : { hour: "2-digit", minute: "2-digit" },
  );
  return (iso: string) => format.format(Date.parse(iso));
}

export function OverviewPage() {
  const api = useApi();
  const [window, setWindow] = useState<Window>("1h");
  const stats = useQuery({
    queryKey: keys.stats.summary(window),
    queryFn: () => api.stats.summary.query({ from: windowStart(window, Date.now()), top: 8 }),
    refetchInterval: REFRESH_MS,
    placeholderData: (previous) => previous,
  });
  const active = useQuery({
    queryKey: keys.sessions.active.count(),
    queryFn: () => api.sessions.active.query({ limit: 1 }),
    refetchInterval: REFRESH_MS,
  });
  const nodes = useQuery({
    queryKey: keys.nodes.list(),
    queryFn: () => api.nodes.list.query(),
    refetchInterval: REFRESH_MS,
  });

  const online = nodes.data?.filter((n) => n.online).length;
  return (
    <div className="page">
      <PageHeader
        title="Overview"
        description={`Sessions that started in the chosen window across the fleet; refreshes every ${REFRESH_MS / 1000} s.`}
        actions={
          <Segmented label="Time window" value={window} options={WINDOWS} onChange={setWindow} />
        }
      />
      {stats.isPending ? (
        <Loading />
      ) : stats.isError && stats.data === undefined ? (
        <ErrorState error={stats.error} retry={() => void stats.refetch()} />
      ) : (
        <Summary
          data={stats.data!}
          window={window}
          activeSessions={active.data?.total}
          nodesOnline={online === undefined ? undefined : `${online} / ${nodes.data!.length}`}
        />
      )}
    </div>
  );
}

function Summary({
  data,
  window,
  activeSessions,
  nodesOnline,
}: {
  data: StatsSummary;
  window: Window;
  activeSessions: number | undefined;
  nodesOnline: string | undefined;
}) {
  const { totals } = data;
  const bytes = totals.bytesUp + totals.bytesDown;
  const series = fillSeries(data.series, {
    fromMs: Date.parse(data.from),
    toMs: Date.parse(data.to),
    bucketMs: data.bucketMs,
    zero: (at) => ({ at, sessions: 0, bytes: 0, rejected: 0 }),
  });
  const formatTime = timeLabel(window);
  const noSessions = totals.sessions === 0;
  return (
    <>
      <div className="stats">
        <Stat
          label="Sessions"
          value={formatCount(totals.sessions)}
          hint={`${formatCount(totals.failed)} failed`}
        />
        <Stat
          label="Traffic"
          value={formatBytes(bytes)}
          hint={`↑ ${formatBytes(totals.bytesUp)} · ↓ ${formatBytes(totals.bytesDown)}`}
        />
        <Stat
          label="Rejected"
          value={formatCount(totals.rejected)}
          hint={`${formatPercent(totals.rejected, totals.sessions)} of sessions`}
        />
        <Stat
          label="Active now"
          value={activeSessions === undefined ? "–" : formatCount(activeSessions)}
        />
        <Stat label="Nodes online" value={nodesOnline ?? "–"} />
      </div>
      <div className="grid grid-2">
        <Card title="Sessions over time" description="Started per bucket; rejected in orange.">
          {noSessions ? (
            <EmptyState title="No sessions in this window">
              Traffic through any relay shows up here within seconds of the session ending.
            </EmptyState>
          ) : (
            <TimeSeriesChart
              title="Sessions over time"
              points={series}
              lines={[
                { key: "sessions", label: "Sessions", color: "var(--chart-1)" },
                { key: "rejected", label: "Rejected", color: "var(--chart-3)" },
              ]}
              value={(p, key) => (key === "sessions" ? p.sessions : p.rejected)}
              formatValue={formatCompact}
              formatTime={formatTime}
            />
          )}
        </Card>
        <Card
          title="Traffic over time"
          description="Bytes up and down of sessions started per bucket."
        >
          {noSessions ? (
            <EmptyState title="No traffic in this window" />
          ) : (
            <TimeSeriesChart
              title="Traffic over time"
              points={series}
              lines={[{ key: "bytes", label: "Bytes", color: "var(--chart-2)" }]}
              value={(p) => p.bytes}
              formatValue={(v) => formatBytes(v).replace(".00", "")}
              formatTime={formatTime}
            />
          )}
        </Card>
      </div>
      <div className="grid grid-3">
        <Card title="Top users" description="By bytes">
          {data.topUsersByBytes.length === 0 ? (
            <EmptyState title="No users yet" />
          ) : (
            <BarList
              label="Top users by bytes"
              items={data.topUsersByBytes.map((u) => ({
                name: u.user,
                value: u.bytes,
                display: `${formatBytes(u.bytes)} · ${formatCount(u.sessions)}`,
              }))}
            />
          )}
        </Card>
        <Card title="Top destinations" description="By sessions">
          {data.topDestinations.length === 0 ? (
            <EmptyState title="No destinations yet" />
          ) : (
            <BarList
              label="Top destinations by sessions"
              color="var(--chart-4)"
              items={data.topDestinations.map((d) => ({
                name: d.host,
                value: d.sessions,
                display: `${formatCount(d.sessions)} · ${formatBytes(d.bytes)}`,
              }))}
            />
          )}
        </Card>
        <Card title="Traffic by country" description="Destinations, by bytes">
          {data.topCountries === null ? (
            <EmptyState title="Not counted per user">
              Filter the history by country instead.
            </EmptyState>
          ) : data.topCountries.length === 0 ? (
            <EmptyState title="No countries yet">
              Relays record countries with a GeoIP database.
            </EmptyState>
          ) : (
            <BarList
              label="Traffic by country"
              color="var(--chart-3)"
              items={data.topCountries.map((c) => ({
                name: c.country,
                value: c.bytes,
                display: `${formatBytes(c.bytes)} · ${formatCount(c.sessions)}`,
              }))}
            />
          )}
        </Card>
        <Card title="Traffic by region" description="By bytes">
          {data.byRegion.length === 0 ? (
            <EmptyState title="No regions yet" />
          ) : (
            <BarList
              label="Traffic by region"
              color="var(--chart-2)"
              items={data.byRegion.map((r) => ({
                name: r.region,
                value: r.bytes,
                display: `${formatBytes(r.bytes)} · ${formatCount(r.sessions)} sessions`,
              }))}
            />
          )}
        </Card>
      </div>
      <Card title="ACL decisions" description="Allowed vs blocked requests in the window">
        <SplitBar
          label="ACL decisions"
          formatValue={formatCount}
          parts={[
            { label: "Allowed", value: totals.aclAllow, color: "var(--green)" },
            { label: "Blocked", value: totals.aclBlock, color: "var(--red)" },
          ]}
        />
      </Card>
    </>
  );
}
