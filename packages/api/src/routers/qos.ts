import { z } from "zod";
import { loadPolicyState } from "../services/policy-state";
import { adminProcedure, router, viewerProcedure } from "../trpc";
import { QosChangeOutput, QosSettings } from "./outputs";

const nullableRate = z.int().min(1).nullable().optional();
const nullableCount = z.int().min(0).nullable().optional();

export const qosRouter = router({
  get: viewerProcedure
    .output(QosSettings)
    .query(async ({ ctx }) => (await loadPolicyState(ctx.services.database.db)).qos),

  /** Fleet-wide shaping and limits; null clears a field, absent keeps it. */
  update: adminProcedure
    .input(
      z.object({
        enabled: z.boolean().optional(),
        globalBytesPerSec: nullableRate,
        guaranteedBytesPerSec: nullableCount,
        maxBytesPerSec: nullableRate,
        burstBytes: nullableRate,
        fairSharing: z.boolean().optional(),
        maxConnectionsPerUser: nullableCount,
        maxConnectionsGlobal: nullableCount,
        maxConnectionsPerClient: nullableCount,
      }),
    )
    .output(QosChangeOutput)
    .mutation(({ ctx, input }) =>
      ctx.services.policy
        .change({
          actor: ctx.admin.name,
          action: "qos.update",
          target: "qos settings",
          edit: (state) => {
            const before = { ...state.qos };
            const changes = Object.entries(input).filter(([, value]) => value !== undefined);
            Object.assign(state.qos, Object.fromEntries(changes));
            return { before, after: state.qos, result: state.qos };
          },
        })
        .then(({ version, result }) => ({ version, qos: result })),
    ),
});
