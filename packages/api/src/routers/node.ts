import { auditLog, nodes } from "@edgesocks/db/schema";
import { tracked } from "@trpc/server";
import { and, eq, gt, isNull } from "drizzle-orm";
import { z } from "zod";
import type { Context } from "../context";
import { ApiError } from "../errors";
import { auditRow } from "../services/audit";
import { publicAddressProblem } from "../services/public-address";
import {
  fleetQuotas,
  quotaDefinitions,
  storeQuotaUsage,
  toVerdicts,
} from "../services/quota-usage";
import { generateToken, hashToken } from "../tokens";
import { nodeProcedure, publicProcedure, router } from "../trpc";
import {
  ConfigAckInput,
  type ConfigEvent,
  ConfigWatchInput,
  ExchangeInput,
  ExchangeOutput,
  HeartbeatInput,
  HeartbeatOutput,
  IngestInput,
  IngestOutput,
  type NodeCommand,
} from "../wire";
import { OkOutput } from "./outputs";

/** Commands waiting for one subscriber at most. */
const MAX_QUEUED_COMMANDS = 1000;

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

/**
 * Every procedure a relay calls, with its messages from ../wire.ts. Their paths are the
 * relay<->control protocol (docs/dev/control-protocol.md) and stay as relays of every version call
 * them: nodes.exchange, nodes.heartbeat, nodes.commands, config.watch, config.ack,
 * sessions.ingest. router.ts mounts each group beside the admin procedures of its name.
 */
export const nodeRouter = {
  nodes: router({
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
          refuseExchange(
            ctx,
            [prefixKey],
            "enrollmentToken: unknown, expired or already exchanged",
          );
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
          refuseExchange(
            ctx,
            [prefixKey],
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
        ctx.services.tokens.invalidate();
        ctx.services.logger.info({ node: row.name, region: row.region }, "node enrolled");
        return { nodeToken, name: row.name, region: row.region };
      }),

    /** A relay's liveness, counters and active sessions, every few seconds. */
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
              ...(input.authProblem !== undefined ? { authProblem: input.authProblem } : {}),
              ...(input.appliedVersion !== null && input.epoch !== null
                ? { appliedVersion: input.appliedVersion, appliedEpoch: input.epoch }
                : {}),
            })
            // The token's own row only: a token replaced meanwhile changes nothing.
            .where(and(eq(nodes.id, ctx.node.nodeId), eq(nodes.nodeTokenHash, ctx.node.tokenHash))),
        );
        const definitions = quotaDefinitions(ctx.services.hub.current()?.snapshot);
        if (input.quota === undefined || definitions.length === 0) {
          return { serverTime: new Date(nowMs).toISOString() };
        }
        // Usage of subjects without a quota in force is not stored: nothing would read it.
        const known = new Set(definitions.map((d) => d.subject));
        const usage = input.quota.usage.filter((u) => known.has(u.subject));
        await storeQuotaUsage(
          ctx.services.database,
          ctx.node.nodeId,
          { boot: input.quota.boot, usage },
          nowMs,
        );
        const quotas = await fleetQuotas(ctx.services.database.db, definitions, nowMs, {
          nodeId: ctx.node.nodeId,
          boot: input.quota.boot,
        });
        await ctx.services.quotas.announce(ctx.services.database.db, ctx.services.commands, quotas);
        return { serverTime: new Date(nowMs).toISOString(), quotas: toVerdicts(quotas) };
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
  }),
  config: router({
    /**
     * The relay's policy feed: the newest snapshot at once when the relay's (epoch, version) differs
     * from it, then every newer version as it is published (a burst of edits arrives as its newest
     * version only). Each event is tracked by its version, so a reconnect resumes from there.
     */
    watch: nodeProcedure.input(ConfigWatchInput).subscription(async function* ({
      ctx,
      input,
      signal,
    }) {
      const { hub, database, metrics, watching, logger } = ctx.services;
      const nodeId = ctx.node.nodeId;
      const abort = signal ?? new AbortController().signal;
      let held: { version: number | null; epoch: string | null } = {
        version: input.version,
        epoch: input.epoch,
      };
      const resumed = input.lastEventId == null ? Number.NaN : Number(input.lastEventId);
      // A resume id is a version this instance's fleet sent, so it is in the current epoch.
      if (Number.isInteger(resumed))
        held = { version: resumed, epoch: hub.current()?.epoch ?? null };

      watching.set(nodeId, (watching.get(nodeId) ?? 0) + 1);
      metrics.connectedNodes.inc();
      try {
        while (!abort.aborted) {
          const generation = hub.generation();
          const newest = hub.current();
          if (newest !== null && (held.epoch !== newest.epoch || held.version !== newest.version)) {
            const event: ConfigEvent = {
              version: newest.version,
              epoch: newest.epoch,
              snapshot: newest.snapshot,
            };
            held = { version: newest.version, epoch: newest.epoch };
            const { db, writes } = database;
            writes
              .run(() =>
                db
                  .update(nodes)
                  .set({
                    sentVersion: newest.version,
                    sentEpoch: newest.epoch,
                    sentAtMs: Date.now(),
                  })
                  .where(eq(nodes.id, nodeId)),
              )
              .catch((error: unknown) =>
                logger.warn({ err: String(error), node: ctx.node.name }, "recording a push failed"),
              );
            metrics.snapshotPushesTotal.inc();
            yield tracked(String(newest.version), event);
          }
          await hub.waitForChange(generation, abort);
        }
      } finally {
        const left = (watching.get(nodeId) ?? 1) - 1;
        if (left > 0) watching.set(nodeId, left);
        else watching.delete(nodeId);
        metrics.connectedNodes.dec();
      }
    }),

    /** The relay applied or rejected a version. */
    ack: nodeProcedure
      .input(ConfigAckInput)
      .output(OkOutput)
      .mutation(async ({ ctx, input }) => {
        const { db, writes } = ctx.services.database;
        const nowMs = Date.now();
        if (input.status === "applied") {
          await writes.run(() =>
            db
              .update(nodes)
              .set({
                appliedVersion: input.version,
                appliedEpoch: input.epoch,
                appliedAtMs: nowMs,
                rejectedVersion: null,
                rejectedEpoch: null,
                rejectionReason: null,
                // An older relay does not report it: it runs the methods it always did.
                authProblem: input.authProblem ?? null,
              })
              .where(eq(nodes.id, ctx.node.nodeId)),
          );
          if (input.authProblem) {
            ctx.services.logger.warn(
              { node: ctx.node.name, version: input.version, problem: input.authProblem },
              "node cannot run the auth method its snapshot gives it; it refuses logins",
            );
          }
        } else {
          await writes.run(() =>
            db
              .update(nodes)
              .set({
                rejectedVersion: input.version,
                rejectedEpoch: input.epoch,
                rejectionReason: input.reason,
              })
              .where(and(eq(nodes.id, ctx.node.nodeId))),
          );
          ctx.services.logger.warn(
            { node: ctx.node.name, version: input.version, reason: input.reason },
            "node rejected a snapshot",
          );
        }
        return { ok: true as const };
      }),
  }),
  sessions: router({
    /** A relay's batch of ended sessions; idempotent by record id. */
    ingest: nodeProcedure
      .input(IngestInput)
      .output(IngestOutput)
      .mutation(({ ctx, input }) =>
        ctx.services.ingest.ingest(
          { nodeId: ctx.node.nodeId, node: ctx.node.name, region: ctx.node.region },
          input.records,
        ),
      ),
  }),
};
