import { z } from "zod";
import { loadPolicyState } from "../services/policy-state";
import { adminProcedure, viewerProcedure } from "../trpc";
import { AclChangeOutput, AclSettings } from "./outputs";

/** acl.settings and acl.updateSettings: the fleet's ACL switch and default policy. */
export const aclSettingsProcedures = {
  settings: viewerProcedure
    .output(AclSettings)
    .query(async ({ ctx }) => (await loadPolicyState(ctx.services.database.db)).acl),

  updateSettings: adminProcedure
    .input(
      z.object({
        enabled: z.boolean().optional(),
        defaultPolicy: z.enum(["allow", "block"]).optional(),
      }),
    )
    .output(AclChangeOutput)
    .mutation(({ ctx, input }) =>
      ctx.services.policy
        .change({
          actor: ctx.admin.name,
          action: "acl.updateSettings",
          target: "acl settings",
          edit: (state) => {
            const before = { ...state.acl };
            if (input.enabled !== undefined) state.acl.enabled = input.enabled;
            if (input.defaultPolicy !== undefined) state.acl.defaultPolicy = input.defaultPolicy;
            return { before, after: state.acl, result: state.acl };
          },
        })
        .then(({ version, result }) => ({ version, acl: result })),
    ),
};
