import { z } from "zod";
import { loadPolicyState } from "../services/policy-state";
import { adminProcedure, router, viewerProcedure } from "../trpc";
import { Name } from "./inputs";
import { AuthChangeOutput, AuthSettings } from "./outputs";

export const authRouter = router({
  get: viewerProcedure
    .output(AuthSettings)
    .query(async ({ ctx }) => (await loadPolicyState(ctx.services.database.db)).auth),

  update: adminProcedure
    .input(
      z.object({
        /** `none` (anonymous clients allowed) and/or `userpass` (RFC 1929). */
        methods: z
          .array(z.enum(["none", "userpass"]))
          .min(1)
          .optional(),
        /** The user unauthenticated clients are evaluated as. */
        anonymousUser: Name.optional(),
      }),
    )
    .output(AuthChangeOutput)
    .mutation(({ ctx, input }) =>
      ctx.services.policy
        .change({
          actor: ctx.admin.name,
          action: "auth.update",
          target: "auth settings",
          edit: (state) => {
            const before = { ...state.auth };
            if (input.methods !== undefined) state.auth.methods = [...new Set(input.methods)];
            if (input.anonymousUser !== undefined) state.auth.anonymousUser = input.anonymousUser;
            return { before, after: state.auth, result: state.auth };
          },
        })
        .then(({ version, result }) => ({ version, auth: result })),
    ),
});
