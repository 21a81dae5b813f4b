import { auditLog, nodes } from "@edgesocks/db/schema";
import { and, asc, eq, gt, isNull } from "drizzle-orm";
import { z } from "zod";
import type { Context } from "../context";
import { ApiError } from "../errors";
import { auditRow } from "../services/audit";
import { isUniqueViolation } from "../services/error-text";
import { nodeView } from "../services/node-view";
import { publicAddressProblem } from "../services/public-address";
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

/** An enrollment token as generateToken("ese") makes them; anything else is refused unread. */
const ENROLLMENT_TOKEN = /^ese_[A-Za-z0-9_-]{43}$/;

/** Throws API_E_BAD_INPUT when the node may not report `address` (see publicAddressProblem). */
function checkPublicAddress(address: string | null, allowed: readonly string[] | null): void {
  if (address === null) return;
  const problem = publicAddressProblem(address, allowed);
  if (problem !== null) throw new ApiError("API_E_BAD_INPUT", problem);
}

function refuseExchange(ctx: Context, keys: string[], message: string): never {
  const { authLimiter, exchangeLimiter, exchangeGlobalLimiter, metrics } = ctx.services;
  authLimiter.recordFailure(ctx.clientAddress);
  for (const key of keys) exchangeLimiter.recordFailure(key);
  exchangeGlobalLimiter.recordFailure("*");
  metrics.authFailuresTotal.inc({ kind: "enrollment" });
  throw new ApiError("API_E_UNAUTHORIZED", message);
}

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

  /** A relay trades its one-time enrollment token for its node token (no other auth). */
  exchange: publicProcedure
    .input(ExchangeInput)
    .output(ExchangeOutput)
    .mutation(async ({ ctx, input }) => {
      const { authLimiter, exchangeLimiter, exchangeGlobalLimiter, metrics, database } =
        ctx.services;
      // Guesses are limited per address, per token prefix (a leaked prefix cannot be finished
      // from many addresses) and fleet-wide, before any database work.
      const prefixKey = input.enrollmentToken.slice(0, 12);
      if (
        authLimiter.isLimited(ctx.clientAddress) ||
        exchangeLimiter.isLimited(prefixKey) ||
        exchangeGlobalLimiter.isLimited("*")
      ) {
        metrics.rateLimitedTotal.inc();
        throw new ApiError(
          "API_E_RATE_LIMITED",
          "too many failed enrollment-token exchanges; retry later",
        );
      }
      if (!ENROLLMENT_TOKEN.test(input.enrollmentToken)) {
        refuseExchange(ctx, [prefixKey], "enrollmentToken: not an ese_… token");
      }
      const nowMs = Date.now();
      const { db, writes } = database;
      const pending = await db
        .select({ publicAddresses: nodes.publicAddresses })
        .from(nodes)
        .where(
          and(
            eq(nodes.enrollmentTokenHash, hashToken(input.enrollmentToken)),
            gt(nodes.enrollmentExpiresAtMs, nowMs),
            isNull(nodes.disabledAtMs),
          ),
        )
        .get();
      if (pending === undefined) {
        refuseExchange(ctx, [prefixKey], "enrollmentToken: unknown, expired or already exchanged");
      }
      checkPublicAddress(input.publicAddress, pending.publicAddresses);
      const nodeToken = generateToken("esn");
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
              isNull(nodes.disabledAtMs),
            ),
          )
          .returning({ name: nodes.name, region: nodes.region })
          .get(),
      );
      if (row === undefined) {
        refuseExchange(ctx, [prefixKey], "enrollmentToken: unknown, expired or already exchanged");
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
      ctx.services.tokens.invalidate();
      ctx.services.logger.info({ node: row.name, region: row.region }, "node enrolled");
      return { nodeToken, name: row.name, region: row.region };
    }),

  heartbeat: nodeProcedure
    .input(HeartbeatInput)
    .output(HeartbeatOutput)
    .mutation(async ({ ctx, input }) => {
      const { db, writes } = ctx.services.database;
      const nowMs = Date.now();
      const enrolled = await db
        .select({ publicAddresses: nodes.publicAddresses })
        .from(nodes)
        .where(eq(nodes.id, ctx.node.nodeId))
        .get();
      checkPublicAddress(input.publicAddress, enrolled?.publicAddresses ?? null);
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
          // The token's own row only: a token replaced meanwhile changes nothing.
          .where(and(eq(nodes.id, ctx.node.nodeId), eq(nodes.nodeTokenHash, ctx.node.tokenHash))),
      );
      return { serverTime: new Date(nowMs).toISOString() };
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
