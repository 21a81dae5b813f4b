import { auditLog, nodes } from "@edgesocks/db/schema";
import { text } from "@edgesocks/policy/text";
import { eq, isNotNull } from "drizzle-orm";
import { z } from "zod";
import { ApiError } from "../errors";
import { auditRow } from "../services/audit";
import { activeSessionsOf } from "../services/node-view";
import {
  getSession,
  querySessionHistory,
  SessionHistoryInput,
  sessionView,
} from "../services/session-query";
import { adminProcedure, router, viewerProcedure } from "../trpc";
import { ActiveSessionsOutput, SessionPage, SessionView, TerminateOutput } from "./outputs";

export const sessionsRouter = router({
  /** Sessions open now, as the relays' latest heartbeats report them (largest first). */
  active: viewerProcedure
    .input(
      z
        .object({
          node: text({ max: 255 }).optional(),
          user: text({ max: 255 }).optional(),
          limit: z.int().min(1).max(5000).default(200),
        })
        .default({ limit: 200 }),
    )
    .output(ActiveSessionsOutput)
    .query(async ({ ctx, input }) => {
      const rows = await ctx.services.database.db
        .select()
        .from(nodes)
        .where(
          input.node === undefined ? isNotNull(nodes.lastSeenAtMs) : eq(nodes.name, input.node),
        );
      const nowMs = Date.now();
      const items = rows.flatMap((row) =>
        activeSessionsOf(row, ctx.services, nowMs)
          .filter((s) => input.user === undefined || s.user === input.user)
          .map((s) => ({ ...s, node: row.name, region: row.region })),
      );
      items.sort((a, b) => b.bytesUp + b.bytesDown - (a.bytesUp + a.bytesDown));
      return {
        items: items.slice(0, input.limit),
        total: items.length,
        /** Nodes that reported only their biggest sessions. */
        truncatedNodes: rows.filter((r) => r.activeSessionsTruncated).map((r) => r.name),
      };
    }),

  /** Ended sessions with filters, sort and cursor pagination. */
  history: viewerProcedure
    .input(SessionHistoryInput)
    .output(SessionPage)
    .query(({ ctx, input }) => querySessionHistory(ctx.services.database.db, input)),

  get: viewerProcedure
    .input(z.object({ id: z.uuid() }))
    .output(SessionView)
    .query(async ({ ctx, input }) => {
      const row = await getSession(ctx.services.database.db, input.id);
      if (row === undefined) throw new ApiError("API_E_NOT_FOUND", `session ${input.id} not found`);
      return sessionView(row);
    }),

  /** Asks the relay holding an active session to close it (nodes.commands). */
  terminate: adminProcedure
    .input(z.object({ id: z.uuid(), node: text({ max: 255 }).optional() }))
    .output(TerminateOutput)
    .mutation(async ({ ctx, input }) => {
      const rows = await ctx.services.database.db
        .select()
        .from(nodes)
        .where(
          input.node === undefined ? isNotNull(nodes.lastSeenAtMs) : eq(nodes.name, input.node),
        );
      const nowMs = Date.now();
      const holder =
        rows.find((row) =>
          activeSessionsOf(row, ctx.services, nowMs).some((s) => s.id === input.id),
        ) ?? (input.node !== undefined ? rows[0] : undefined);
      if (holder === undefined) {
        throw new ApiError(
          "API_E_NOT_FOUND",
          `session ${input.id} is not active on any node (pass node to send the command anyway)`,
        );
      }
      await ctx.services.commands.send(holder.id, {
        type: "terminate",
        sessionId: input.id,
        by: ctx.admin.name,
      });
      const { db, writes } = ctx.services.database;
      await writes.run(() =>
        db.insert(auditLog).values(
          auditRow({
            actor: ctx.admin.name,
            action: "sessions.terminate",
            target: `session ${input.id}`,
            after: { node: holder.name },
          }),
        ),
      );
      return { node: holder.name, sent: true as const };
    }),
});
