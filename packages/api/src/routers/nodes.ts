import { isUniqueViolation } from "@edgesocks/db";
import { auditLog, nodes } from "@edgesocks/db/schema";
import { asc, eq } from "drizzle-orm";
import { z } from "zod";
import type { Context } from "../context";
import { ApiError } from "../errors";
import { auditRow } from "../services/audit";
import { nodeView } from "../services/node-view";
import { publicAddressProblem } from "../services/public-address";
import { generateToken, hashToken } from "../tokens";
import { adminProcedure, router, viewerProcedure } from "../trpc";
import { EnrollOutput, NodeView } from "./outputs";

const NodeName = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/, "letters, digits, . _ - (at most 63)");

/** Disables, enables or removes one node, audited; its token stops working at once. */
async function changeNode(
  ctx: Context & { admin: { name: string } },
  name: string,
  action: "disable" | "enable" | "remove",
) {
  const { db, writes } = ctx.services.database;
  const where = eq(nodes.name, name);
  const before = await db.select().from(nodes).where(where).get();
  if (before === undefined) throw new ApiError("API_E_NOT_FOUND", `node "${name}" does not exist`);
  const wasDisabled = before.disabledAtMs !== null;
  // Already so: nothing to change or audit.
  if (action !== "remove" && wasDisabled === (action === "disable")) {
    return nodeView(before, ctx.services);
  }
  const nowMs = Date.now();
  const change =
    action === "remove"
      ? db.delete(nodes).where(where).returning()
      : db
          .update(nodes)
          .set({ disabledAtMs: action === "disable" ? nowMs : null })
          .where(where)
          .returning();
  const [rows] = await writes.run(() =>
    db.batch([
      change,
      db.insert(auditLog).values(
        auditRow({
          atMs: nowMs,
          actor: ctx.admin.name,
          action: `nodes.${action}`,
          target: `node ${name}`,
          before: { disabled: wasDisabled },
          ...(action === "remove" ? {} : { after: { disabled: action === "disable" } }),
        }),
      ),
    ]),
  );
  ctx.services.tokens.invalidate();
  ctx.services.logger.info({ node: name, by: ctx.admin.name }, `node: ${action}`);
  return nodeView(rows[0] ?? before, ctx.services);
}

export const nodesRouter = router({
  /**
   * Creates a node and a one-time enrollment token (`ese_…`) for it. With `replace`, an existing
   * node gets a new enrollment token and its current node token stops working.
   */
  enroll: adminProcedure
    .input(
      z.object({
        name: NodeName,
        region: NodeName,
        /** How long the enrollment token is valid, in seconds. @default 86400 */
        expiresInSec: z
          .int()
          .min(60)
          .max(30 * 86400)
          .optional(),
        replace: z.boolean().default(false),
        /**
         * The only public addresses (exact HOST:PORT) this node may report for /proxy.pac; needed
         * for loopback or link-local ones. @default null: any well-formed routable HOST:PORT
         */
        publicAddresses: z
          .array(
            z.string().refine((a) => publicAddressProblem(a, [a]) === null, "expected HOST:PORT"),
          )
          .max(16)
          .nullable()
          .default(null),
      }),
    )
    .output(EnrollOutput)
    .mutation(async ({ ctx, input }) => {
      const { db, writes } = ctx.services.database;
      const token = generateToken("ese");
      const nowMs = Date.now();
      const values = {
        region: input.region,
        publicAddresses: input.publicAddresses,
        enrollmentTokenHash: hashToken(token),
        enrollmentExpiresAtMs:
          nowMs + (input.expiresInSec ? input.expiresInSec * 1000 : ctx.services.enrollmentTtlMs),
      };
      const insert = db.insert(nodes).values({ name: input.name, createdAtMs: nowMs, ...values });
      const audit = db.insert(auditLog).values(
        auditRow({
          atMs: nowMs,
          actor: ctx.admin.name,
          action: "nodes.enroll",
          target: `node ${input.name}`,
          after: {
            name: input.name,
            region: input.region,
            enrollmentExpiresAt: new Date(values.enrollmentExpiresAtMs).toISOString(),
            replace: input.replace,
          },
        }),
      );
      const row = await writes
        .run(async () => {
          const [rows] = await db.batch([
            input.replace
              ? insert
                  .onConflictDoUpdate({
                    target: nodes.name,
                    // Re-enrolling is how a disabled node comes back, with a new token.
                    set: {
                      ...values,
                      nodeTokenHash: null,
                      enrolledAtMs: null,
                      publicAddress: null,
                      disabledAtMs: null,
                    },
                  })
                  .returning()
              : insert.returning(),
            audit,
          ]);
          return rows[0]!;
        })
        .catch((cause: unknown) => {
          if (isUniqueViolation(cause, "nodes.name")) {
            throw new ApiError(
              "API_E_CONFLICT",
              `name: node "${input.name}" already exists (enroll with replace: true to re-enroll it)`,
              { cause },
            );
          }
          throw cause;
        });
      ctx.services.tokens.invalidate();
      return { node: nodeView(row, ctx.services), enrollmentToken: token };
    }),

  list: viewerProcedure.output(z.array(NodeView)).query(async ({ ctx }) => {
    const rows = await ctx.services.database.db.select().from(nodes).orderBy(asc(nodes.name));
    const nowMs = Date.now();
    return rows.map((row) => nodeView(row, ctx.services, nowMs));
  }),

  get: viewerProcedure
    .input(z.object({ name: NodeName }))
    .output(NodeView)
    .query(async ({ ctx, input }) => {
      const row = await ctx.services.database.db
        .select()
        .from(nodes)
        .where(eq(nodes.name, input.name))
        .get();
      if (row === undefined)
        throw new ApiError("API_E_NOT_FOUND", `node "${input.name}" does not exist`);
      return nodeView(row, ctx.services);
    }),

  /** Stops a node: its token stops working, its sockets close, it leaves /proxy.pac and alerts. */
  disable: adminProcedure
    .input(z.object({ name: NodeName }))
    .output(NodeView)
    .mutation(({ ctx, input }) => changeNode(ctx, input.name, "disable")),

  /** Lets a disabled node's token work again. */
  enable: adminProcedure
    .input(z.object({ name: NodeName }))
    .output(NodeView)
    .mutation(({ ctx, input }) => changeNode(ctx, input.name, "enable")),

  /** Deletes a node (its session history stays); its token stops working, its sockets close. */
  remove: adminProcedure
    .input(z.object({ name: NodeName }))
    .output(NodeView)
    .mutation(({ ctx, input }) => changeNode(ctx, input.name, "remove")),
});
