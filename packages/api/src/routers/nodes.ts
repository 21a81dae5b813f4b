import { auditLog, nodes } from "@edgesocks/db/schema";
import { and, asc, eq, gt } from "drizzle-orm";
import { z } from "zod";
import { ApiError } from "../errors";
import { auditRow } from "../services/audit";
import { isUniqueViolation } from "../services/error-text";
import { nodeView } from "../services/node-view";
import { generateToken, hashToken } from "../tokens";
import { adminProcedure, nodeProcedure, publicProcedure, router, viewerProcedure } from "../trpc";
import {
  ExchangeInput,
  ExchangeOutput,
  HeartbeatInput,
  HeartbeatOutput,
  type NodeCommand,
} from "../wire";
import { EnrollOutput, NodeView } from "./outputs";

/** Commands waiting for one subscriber at most. */
const MAX_QUEUED_COMMANDS = 1000;

const NodeName = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/, "letters, digits, . _ - (at most 63)");

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
      }),
    )
    .output(EnrollOutput)
    .mutation(async ({ ctx, input }) => {
      const { db, writes } = ctx.services.database;
      const token = generateToken("ese");
      const nowMs = Date.now();
      const values = {
        region: input.region,
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
                    set: { ...values, nodeTokenHash: null, enrolledAtMs: null },
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

  /** A relay trades its one-time enrollment token for its node token (no other auth). */
  exchange: publicProcedure
    .input(ExchangeInput)
    .output(ExchangeOutput)
    .mutation(async ({ ctx, input }) => {
      const { authLimiter, metrics, database } = ctx.services;
      if (authLimiter.isLimited(ctx.clientAddress)) {
        metrics.rateLimitedTotal.inc();
        throw new ApiError("API_E_RATE_LIMITED", "too many failed authentications; retry later");
      }
      const nodeToken = generateToken("esn");
      const nowMs = Date.now();
      const { db, writes } = database;
      // One statement: two concurrent exchanges of one token cannot both succeed.
      const row = await writes.run(() =>
        db
          .update(nodes)
          .set({
            enrollmentTokenHash: null,
            enrollmentExpiresAtMs: null,
            nodeTokenHash: hashToken(nodeToken),
            enrolledAtMs: nowMs,
            softwareVersion: input.softwareVersion,
            publicAddress: input.publicAddress,
          })
          .where(
            and(
              eq(nodes.enrollmentTokenHash, hashToken(input.enrollmentToken)),
              gt(nodes.enrollmentExpiresAtMs, nowMs),
            ),
          )
          .returning({ name: nodes.name, region: nodes.region })
          .get(),
      );
      if (row === undefined) {
        authLimiter.recordFailure(ctx.clientAddress);
        metrics.authFailuresTotal.inc({ kind: "enrollment" });
        throw new ApiError(
          "API_E_UNAUTHORIZED",
          "enrollmentToken: unknown, expired or already exchanged",
        );
      }
      await writes.run(() =>
        db.insert(auditLog).values(
          auditRow({
            atMs: nowMs,
            actor: `node ${row.name}`,
            action: "nodes.exchange",
            target: `node ${row.name}`,
            after: {
              region: row.region,
              softwareVersion: input.softwareVersion,
              publicAddress: input.publicAddress,
            },
          }),
        ),
      );
      ctx.services.logger.info({ node: row.name, region: row.region }, "node enrolled");
      return { nodeToken, name: row.name, region: row.region };
    }),

  heartbeat: nodeProcedure
    .input(HeartbeatInput)
    .output(HeartbeatOutput)
    .mutation(async ({ ctx, input }) => {
      const { db, writes } = ctx.services.database;
      const nowMs = Date.now();
      await writes.run(() =>
        db
          .update(nodes)
          .set({
            lastSeenAtMs: nowMs,
            softwareVersion: input.softwareVersion,
            publicAddress: input.publicAddress,
            counters: input.counters,
            activeSessionsJson: JSON.stringify(input.activeSessions),
            activeSessionsTruncated: input.activeSessionsTruncated,
            ...(input.appliedVersion !== null && input.epoch !== null
              ? { appliedVersion: input.appliedVersion, appliedEpoch: input.epoch }
              : {}),
          })
          .where(eq(nodes.id, ctx.node.nodeId)),
      );
      return { serverTime: new Date(nowMs).toISOString() };
    }),

  /** Commands for this relay (terminate a session, ...), from any control-plane instance. */
  commands: nodeProcedure.input(z.object({}).optional()).subscription(async function* ({
    ctx,
    signal,
  }) {
    const queue: NodeCommand[] = [];
    let wake: (() => void) | null = null;
    const unsubscribe = ctx.services.commands.subscribe(ctx.node.nodeId, (command) => {
      if (queue.length >= MAX_QUEUED_COMMANDS) {
        // A relay that stopped reading: drop the oldest, say so (the slow-consumer check closes it).
        queue.shift();
        ctx.services.metrics.commandsExpiredTotal.inc();
        ctx.services.logger.warn(
          { node: ctx.node.name },
          "node command queue full; dropped the oldest",
        );
      }
      queue.push(command);
      wake?.();
    });
    try {
      while (!signal?.aborted) {
        const command = queue.shift();
        if (command !== undefined) {
          yield command;
          continue;
        }
        await new Promise<void>((resolve) => {
          wake = resolve;
          signal?.addEventListener("abort", () => resolve(), { once: true });
        });
        wake = null;
      }
    } finally {
      unsubscribe();
    }
  }),
});
