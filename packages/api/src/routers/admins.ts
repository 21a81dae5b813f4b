import { isUniqueViolation } from "@edgesocks/db";
import { ADMIN_ROLES, admins, apiTokens, auditLog } from "@edgesocks/db/schema";
import { text } from "@edgesocks/policy/text";
import { and, asc, eq, isNull, sql } from "drizzle-orm";
import { z } from "zod";
import type { Context } from "../context";
import { ApiError } from "../errors";
import { generateToken, hashToken } from "../tokens";
import { adminProcedure, router, viewerProcedure } from "../trpc";
import { Name } from "./inputs";
import {
  AdminCreateOutput,
  AdminView,
  TokenCreateOutput,
  TokenRevokeOutput,
  WhoamiOutput,
} from "./outputs";

async function adminByName(ctx: Context, name: string) {
  const row = await ctx.services.database.db
    .select()
    .from(admins)
    .where(eq(admins.name, name))
    .get();
  if (row === undefined) throw new ApiError("API_E_NOT_FOUND", `admin "${name}" does not exist`);
  return row;
}

export const whoamiProcedure = viewerProcedure.output(WhoamiOutput).query(({ ctx }) => ({
  name: ctx.admin.name,
  role: ctx.admin.role,
}));

export const adminsRouter = router({
  /** Admins and their tokens (never the tokens themselves). */
  list: adminProcedure.output(z.array(AdminView)).query(async ({ ctx }) => {
    const { db } = ctx.services.database;
    const [people, tokens] = await Promise.all([
      db.select().from(admins).orderBy(asc(admins.name)),
      db.select().from(apiTokens).orderBy(asc(apiTokens.id)),
    ]);
    const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
    return people.map((a) => ({
      name: a.name,
      role: a.role,
      createdAt: iso(a.createdAtMs),
      disabled: a.disabledAtMs !== null,
      tokens: tokens
        .filter((t) => t.adminId === a.id)
        .map((t) => ({
          id: t.id,
          label: t.label,
          createdAt: iso(t.createdAtMs),
          revokedAt: iso(t.revokedAtMs),
        })),
    }));
  }),

  /** Creates an admin (or viewer) and their first token, shown once. */
  create: adminProcedure
    .input(z.object({ name: Name, role: z.enum(ADMIN_ROLES) }))
    .output(AdminCreateOutput)
    .mutation(async ({ ctx, input }) => {
      const { db, writes } = ctx.services.database;
      const token = generateToken("esa");
      const nowMs = Date.now();
      await writes
        .run(() =>
          db.batch([
            db.insert(admins).values({ name: input.name, role: input.role, createdAtMs: nowMs }),
            db.insert(apiTokens).values({
              adminId: sql<number>`(SELECT ${admins.id} FROM ${admins} WHERE ${admins.name} = ${input.name})`,
              label: "initial",
              tokenHash: hashToken(token),
              createdAtMs: nowMs,
            }),
            db.insert(auditLog).values({
              atMs: nowMs,
              actor: ctx.admin.name,
              action: "admins.create",
              target: `admin ${input.name}`,
              after: { name: input.name, role: input.role },
            }),
          ]),
        )
        .catch((cause: unknown) => {
          if (isUniqueViolation(cause, "admins.name")) {
            throw new ApiError("API_E_CONFLICT", `name: admin "${input.name}" already exists`, {
              cause,
            });
          }
          throw cause;
        });
      return { name: input.name, role: input.role, token };
    }),

  createToken: adminProcedure
    .input(z.object({ name: Name, label: text({ min: 1, max: 100 }) }))
    .output(TokenCreateOutput)
    .mutation(async ({ ctx, input }) => {
      const admin = await adminByName(ctx, input.name);
      const { db, writes } = ctx.services.database;
      const token = generateToken("esa");
      const nowMs = Date.now();
      const row = await writes.run(async () => {
        const [inserted] = await db.batch([
          db
            .insert(apiTokens)
            .values({
              adminId: admin.id,
              label: input.label,
              tokenHash: hashToken(token),
              createdAtMs: nowMs,
            })
            .returning({ id: apiTokens.id }),
          db.insert(auditLog).values({
            atMs: nowMs,
            actor: ctx.admin.name,
            action: "admins.createToken",
            target: `admin ${input.name}`,
            after: { label: input.label },
          }),
        ]);
        return inserted[0]!;
      });
      return { id: row.id, token };
    }),

  revokeToken: adminProcedure
    .input(z.object({ id: z.int() }))
    .output(TokenRevokeOutput)
    .mutation(async ({ ctx, input }) => {
      const { db, writes } = ctx.services.database;
      const nowMs = Date.now();
      const [revoked] = await writes.run(() =>
        db.batch([
          db
            .update(apiTokens)
            .set({ revokedAtMs: nowMs })
            .where(and(eq(apiTokens.id, input.id), isNull(apiTokens.revokedAtMs)))
            .returning({ id: apiTokens.id }),
          db.insert(auditLog).values({
            atMs: nowMs,
            actor: ctx.admin.name,
            action: "admins.revokeToken",
            target: `token ${input.id}`,
          }),
        ]),
      );
      if (revoked.length === 0)
        throw new ApiError("API_E_NOT_FOUND", `token ${input.id} is not active`);
      ctx.services.tokens.invalidate();
      return { revoked: true as const };
    }),
});
