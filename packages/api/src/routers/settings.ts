import { z } from "zod";
import { loadPolicyState } from "../services/policy-state";
import { adminProcedure, router, viewerProcedure } from "../trpc";
import { Name } from "./inputs";
import {
  AclChangeOutput,
  AclSettings,
  AuthChangeOutput,
  AuthSettings,
  QosChangeOutput,
  QosSettings,
} from "./outputs";

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
