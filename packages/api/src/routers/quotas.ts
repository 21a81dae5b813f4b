import { auditLog } from "@edgesocks/db/schema";
import { Quota, quotaSubject, TimeZone } from "@edgesocks/policy";
import { z } from "zod";
import { ApiError } from "../errors";
import { auditRow } from "../services/audit";
import { loadPolicyState, type PolicyState } from "../services/policy-state";
import {
  clearQuotaUsage,
  enrolledNodeIds,
  fleetQuotas,
  quotaDefinitions,
} from "../services/quota-usage";
import { adminProcedure, router, viewerProcedure } from "../trpc";
import { Name } from "./inputs";
import { QuotaResetOutput, QuotaSetOutput, QuotaUsageOutput, VersionOutput } from "./outputs";

const Subject = z.object({ kind: z.enum(["user", "group"]), name: Name });

function ownerOf(state: PolicyState, kind: "user" | "group", name: string) {
  const owner =
    kind === "user"
      ? state.users.find((u) => u.username === name)
      : state.groups.find((g) => g.name === name);
  if (owner === undefined)
    throw new ApiError("API_E_NOT_FOUND", `${kind} "${name}" does not exist`);
  return owner;
}

/**
 * Traffic quotas: set (part of the policy, so a new snapshot), the fleet's use of each in the
 * period in force (from the relays' heartbeats), and a reset that starts a period over.
 */
export const quotasRouter = router({
  /** As the policy stands now (its newest edit, which relays get within a push). */
  usage: viewerProcedure.output(QuotaUsageOutput).query(async ({ ctx }) => {
    const state = await loadPolicyState(ctx.services.database.db);
    const quotas = await fleetQuotas(ctx.services.database.db, quotaDefinitions(state), Date.now());
    return {
      timeZone: state.quotaTimezone,
      quotas: quotas.map((q) => ({
        subject: q.subject,
        kind: q.kind,
        name: q.name,
        quota: q.quota,
        periodStart: new Date(q.countedFromMs).toISOString(),
        periodEnd: new Date(q.periodEndMs).toISOString(),
        usedBytes: q.usedBytes,
        exhausted: q.exhausted,
      })),
    };
  }),

  /** Sets (or with null removes) a user's or group's quota; a group's is shared by its members. */
  set: adminProcedure
    .input(Subject.extend({ quota: Quota.nullable() }))
    .output(QuotaSetOutput)
    .mutation(({ ctx, input }) =>
      ctx.services.policy
        .change({
          actor: ctx.admin.name,
          action: "quotas.set",
          target: `${input.kind} ${input.name}`,
          edit: (state) => {
            const owner = ownerOf(state, input.kind, input.name);
            const before = owner.quota;
            owner.quota = input.quota;
            return { before, after: input.quota, result: input.quota };
          },
        })
        .then(({ version, result }) => ({ version, quota: result })),
    ),

  /** The time zone of every quota's days, weeks and months. */
  setTimezone: adminProcedure
    .input(z.object({ timeZone: TimeZone }))
    .output(VersionOutput)
    .mutation(({ ctx, input }) =>
      ctx.services.policy
        .change({
          actor: ctx.admin.name,
          action: "quotas.setTimezone",
          target: "quota time zone",
          edit: (state) => {
            const before = state.quotaTimezone;
            state.quotaTimezone = input.timeZone;
            return { before, after: input.timeZone, result: null };
          },
        })
        .then(({ version }) => ({ version })),
    ),

  /**
   * Starts the period in force over at zero: the stored counts go and every relay is told to zero
   * its own (nodes.commands). A relay that is away learns it from its next heartbeat answer only
   * for the fleet's part; its own count resets when the command reaches it.
   */
  reset: adminProcedure
    .input(Subject)
    .output(QuotaResetOutput)
    .mutation(async ({ ctx, input }) => {
      const subject = quotaSubject(input.kind, input.name);
      const state = await loadPolicyState(ctx.services.database.db);
      const definition = quotaDefinitions(state).find((d) => d.subject === subject);
      if (definition === undefined) {
        throw new ApiError(
          "API_E_NOT_FOUND",
          `${input.kind} "${input.name}" has no quota in force`,
        );
      }
      const [quota] = await fleetQuotas(ctx.services.database.db, [definition], Date.now());
      await clearQuotaUsage(ctx.services.database, subject, quota!.countedFromMs);
      ctx.services.quotas.forget(subject);
      const nodeIds = await enrolledNodeIds(ctx.services.database.db);
      for (const id of nodeIds) {
        await ctx.services.commands.send(id, { type: "quota_reset", subject, by: ctx.admin.name });
      }
      const { db, writes } = ctx.services.database;
      await writes.run(() =>
        db.insert(auditLog).values(
          auditRow({
            actor: ctx.admin.name,
            action: "quotas.reset",
            target: `${input.kind} ${input.name}`,
            before: { usedBytes: quota!.usedBytes },
            after: { periodStart: new Date(quota!.countedFromMs).toISOString() },
          }),
        ),
      );
      return {
        subject,
        periodStart: new Date(quota!.countedFromMs).toISOString(),
        nodesTold: nodeIds.length,
      };
    }),
});
