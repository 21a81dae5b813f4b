import { auditLog } from "@edgesocks/db/schema";
import { text } from "@edgesocks/policy/text";
import { and, desc, eq, lt, type SQL } from "drizzle-orm";
import { z } from "zod";
import { router, viewerProcedure } from "../trpc";
import { Limit } from "./inputs";
import { AuditPage } from "./outputs";

export const auditRouter = router({
  /** Newest first; pass `nextCursor` back as `cursor`. */
  list: viewerProcedure
    .input(
      z
        .object({
          limit: Limit,
          cursor: z.int().min(1).nullish(),
          actor: text({ max: 255 }).optional(),
          action: text({ max: 255 }).optional(),
        })
        .default({ limit: 50 }),
    )
    .output(AuditPage)
    .query(async ({ ctx, input }) => {
      const where: SQL[] = [];
      if (input.cursor) where.push(lt(auditLog.id, input.cursor));
      if (input.actor !== undefined) where.push(eq(auditLog.actor, input.actor));
      if (input.action !== undefined) where.push(eq(auditLog.action, input.action));
      const rows = await ctx.services.database.db
        .select()
        .from(auditLog)
        .where(where.length > 0 ? and(...where) : undefined)
        .orderBy(desc(auditLog.id))
        .limit(input.limit + 1);
      const page = rows.slice(0, input.limit);
      return {
        items: page.map(({ atMs, ...row }) => ({ ...row, at: new Date(atMs).toISOString() })),
        nextCursor: rows.length > input.limit ? page.at(-1)!.id : null,
      };
    }),
});
