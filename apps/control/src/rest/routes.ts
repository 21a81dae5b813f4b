import type { AppRouter } from "@edgesocks/api";
import { ApiError } from "@edgesocks/api";
import type { Db } from "@edgesocks/db";
import type { inferRouterOutputs } from "@trpc/server";
import { z } from "zod";
import {
  AclRulesSummary,
  AclTestBody,
  AclTestResult,
  HistoryPage,
  HistoryQuery,
  NoQuery,
  ReloadResult,
  RestSession,
  SessionStats,
  StatsQuery,
  UserSessionsQuery,
} from "./schemas";
import { sessionHistoryPage } from "./session-history";
import { toRestSession } from "./session-shape";

type Caller = ReturnType<AppRouter["createCaller"]>;
type Outputs = inferRouterOutputs<AppRouter>;

export interface RouteCall {
  caller: Caller;
  db: Db;
  params: Record<string, string>;
  query: unknown;
  body: unknown;
}

export interface RestRoute {
  method: "get" | "post";
  /** OpenAPI path template: `{name}` is one path segment. */
  path: string;
  summary: string;
  /** Like the tRPC procedures it stands for: `viewer` reads, `admin` writes. */
  role: "viewer" | "admin";
  params?: Record<string, { description: string; schema: z.ZodType<string> }>;
  query: z.ZodType;
  body?: z.ZodType;
  response: z.ZodType;
  run(call: RouteCall): Promise<unknown>;
}

const ACTIVE_LIMIT = 5000;
const USER_SESSIONS_DEFAULT = 1000;
const PAGE = 500;

const SessionId = z.uuid("must be a session id (UUID)");
const UserName = z.string().min(1).max(255);

/** The REST paths: RustSocks' where both have the operation, answered by the tRPC procedures. */
export const REST_ROUTES: readonly RestRoute[] = [
  {
    method: "get",
    path: "/api/sessions/active",
    summary: "Sessions open now, on every relay (from their latest heartbeats)",
    role: "viewer",
    query: NoQuery,
    response: z.array(RestSession),
    async run({ caller }) {
      const active = await caller.sessions.active({ limit: ACTIVE_LIMIT });
      return active.items.map(toRestSession);
    },
  },
  {
    method: "get",
    path: "/api/sessions/history",
    summary: "Ended sessions, newest first, by page",
    role: "viewer",
    query: HistoryQuery,
    response: HistoryPage,
    async run({ caller, db, query }) {
      await caller.whoami(); // the same token check as sessions.history
      return sessionHistoryPage(db, query as z.output<typeof HistoryQuery>);
    },
  },
  {
    method: "get",
    path: "/api/sessions/stats",
    summary: "Session counts, bytes and top users and destinations for a window",
    role: "viewer",
    query: StatsQuery,
    response: SessionStats,
    async run({ caller, query }) {
      const { hours } = query as z.output<typeof StatsQuery>;
      const toMs = Date.now();
      const fromMs = toMs - (hours ?? 24) * 3600_000;
      const [summary, active] = await Promise.all([
        caller.stats.summary({
          from: new Date(fromMs).toISOString(),
          to: new Date(toMs).toISOString(),
          top: 10,
        }),
        caller.sessions.active({ limit: 1 }),
      ]);
      const { totals } = summary;
      return {
        total_sessions: totals.sessions,
        active_sessions: active.total,
        closed_sessions: totals.sessions - totals.failed - totals.rejected,
        failed_sessions: totals.failed,
        rejected_sessions: totals.rejected,
        total_bytes_sent: totals.bytesUp,
        total_bytes_received: totals.bytesDown,
        top_users: summary.topUsersBySessions.map((u) => ({
          user: u.user,
          session_count: u.sessions,
          bytes: u.bytes,
        })),
        top_destinations: summary.topDestinations.map((d) => ({
          destination: d.host,
          session_count: d.sessions,
          bytes: d.bytes,
        })),
        window_start: summary.from,
        window_end: summary.to,
      };
    },
  },
  {
    method: "get",
    path: "/api/sessions/{id}",
    summary: "One session: open now (on any relay) or ended",
    role: "viewer",
    params: { id: { description: "The session id (UUID)", schema: SessionId } },
    query: NoQuery,
    response: RestSession,
    async run({ caller, params }) {
      const id = params.id!;
      try {
        return toRestSession(await caller.sessions.get({ id }));
      } catch (error) {
        if (!(error instanceof ApiError && error.appCode === "API_E_NOT_FOUND")) throw error;
      }
      const active = await caller.sessions.active({ limit: ACTIVE_LIMIT });
      const open = active.items.find((s) => s.id === id);
      if (open === undefined) throw new ApiError("API_E_NOT_FOUND", `session ${id} not found`);
      return toRestSession(open);
    },
  },
  {
    method: "get",
    path: "/api/users/{user}/sessions",
    summary: "A user's ended sessions, newest first",
    role: "viewer",
    params: { user: { description: "The username", schema: UserName } },
    query: UserSessionsQuery,
    response: z.array(RestSession),
    async run({ caller, params, query }) {
      const wanted = Math.max(
        1,
        (query as z.output<typeof UserSessionsQuery>).limit ?? USER_SESSIONS_DEFAULT,
      );
      const items: RestSession[] = [];
      let cursor: string | null = null;
      do {
        const page: Outputs["users"]["sessions"] = await caller.users.sessions({
          username: params.user!,
          limit: Math.min(PAGE, wanted - items.length),
          cursor,
        });
        items.push(...page.items.map(toRestSession));
        cursor = page.nextCursor;
      } while (cursor !== null && items.length < wanted);
      return items;
    },
  },
  {
    method: "get",
    path: "/api/acl/rules",
    summary: "How many users and groups the ACL has, and every rule",
    role: "viewer",
    query: NoQuery,
    response: AclRulesSummary,
    async run({ caller }) {
      const [users, groups, rules] = await Promise.all([
        caller.users.list(),
        caller.groups.list(),
        caller.rules.list({}),
      ]);
      return {
        user_count: users.length,
        group_count: groups.length,
        message: `ACL has ${users.length} users and ${groups.length} groups configured`,
        rules: rules.map((r) => ({
          id: r.id,
          user_or_group: r.owner.name,
          owner_kind: r.owner.kind,
          action: r.action,
          description: r.description ?? "",
          destinations: r.destinations,
          ports: r.ports,
          protocols: r.protocols,
          priority: r.priority,
          ...(r.sources === null ? {} : { sources: r.sources }),
          ...(r.schedule === null ? {} : { schedule: r.schedule }),
          ...(r.closeAtWindowEnd ? { close_at_window_end: true } : {}),
        })),
      };
    },
  },
  {
    method: "post",
    path: "/api/acl/test",
    summary: "Decides one request with the newest policy, as the relays would",
    role: "viewer",
    query: NoQuery,
    body: AclTestBody,
    response: AclTestResult,
    async run({ caller, body }) {
      const input = body as z.output<typeof AclTestBody>;
      const protocol = input.protocol ?? "tcp";
      const result = await caller.acl.test({
        user: input.user,
        destination: input.destination,
        address: input.address,
        port: input.port,
        protocol,
        client: input.client,
        at: input.at,
        clientCountry: input.client_country,
        destinationCountry: input.destination_country,
      });
      return {
        user: input.user,
        destination: input.destination,
        port: input.port,
        protocol,
        decision: result.decision.action,
        matched_rule: result.decision.ruleId,
        reason: result.decision.reason,
        version: result.version,
        at: result.at,
      };
    },
  },
  {
    method: "post",
    path: "/api/admin/reload-acl",
    summary: "Publishes the current policy again as a new version, which every relay is sent",
    role: "admin",
    query: NoQuery,
    response: ReloadResult,
    async run({ caller }) {
      const newest = await caller.snapshots.list({ limit: 1 });
      const current = newest.items[0];
      if (current === undefined) throw new ApiError("API_E_NOT_FOUND", "no snapshot published yet");
      const { version } = await caller.snapshots.rollback({ version: current.version });
      return {
        success: true,
        message: `published the current policy (version ${current.version}) again as version ${version}`,
        version,
      };
    },
  },
];
