import { Quota } from "@edgesocks/policy";
import { text } from "@edgesocks/policy/text";
import { z } from "zod";
import { ApiError } from "../errors";
import { loadPolicyState, NO_QOS, type PolicyState } from "../services/policy-state";
import { adminProcedure, router, viewerProcedure } from "../trpc";
import { Name, QosOverrideInput, RuleFields, RuleId } from "./inputs";
import { PolicyExportOutput, PolicyImportOutput } from "./outputs";
import { hashPassword } from "./users";

const ImportUser = z.object({
  username: Name,
  password: text({ min: 1, max: 1024 }).optional(),
  passwordHash: text({ max: 1024 }).startsWith("$argon2id$").optional(),
  enabled: z.boolean().default(true),
  groups: z.array(Name).default([]),
  maxConnections: z.int().min(0).nullable().default(null),
  qos: QosOverrideInput.default({}),
  quota: Quota.nullable().default(null),
});

const nullable = <T extends z.ZodType>(schema: T) => schema.nullable().default(null);

const nullableRate = z.int().min(1).nullable().default(null);
const nullableCount = z.int().min(0).nullable().default(null);

/** Fleet-wide QoS as import takes it: every field, as `policy.export` writes it. */
const ImportQos = z.object({
  enabled: z.boolean(),
  globalBytesPerSec: nullableRate,
  guaranteedBytesPerSec: nullableCount,
  maxBytesPerSec: nullableRate,
  burstBytes: nullableRate,
  fairSharing: z.boolean().default(true),
  maxConnectionsPerUser: nullableCount,
  maxConnectionsGlobal: nullableCount,
  maxConnectionsPerClient: nullableCount,
});

export const policyRouter = router({
  /**
   * The whole editable policy, in the shape `policy.import` takes back: users (with
   * `hasPassword`, never a hash), groups, rules in order, and the acl, auth and qos settings.
   */
  export: viewerProcedure.output(PolicyExportOutput).query(async ({ ctx }) => {
    const [state, version] = await Promise.all([
      loadPolicyState(ctx.services.database.db),
      ctx.services.policy.latestVersion(),
    ]);
    return {
      version,
      users: state.users.map(({ passwordHash, ...u }) => ({
        ...u,
        hasPassword: passwordHash !== null,
      })),
      groups: state.groups,
      rules: state.rules,
      acl: state.acl,
      auth: state.auth,
      qos: state.qos,
    };
  }),

  /**
   * Replaces users, groups and rules (and, if given, the acl, auth and qos settings) in one
   * change: one new snapshot version, or nothing when any part would not compile. A user given
   * neither `password` nor `passwordHash` keeps the password they have (none when new).
   * `dryRun`: store nothing, return the diff the import would make.
   */
  import: adminProcedure
    .input(
      z.object({
        users: z.array(ImportUser).max(100_000),
        groups: z
          .array(
            z.object({
              name: Name,
              maxConnectionsPerUser: nullable(z.int().min(0)),
              qos: QosOverrideInput.default({}),
              quota: Quota.nullable().default(null),
            }),
          )
          .max(10_000),
        // Strict: a key this version cannot store (a misspelt `source`, say) is refused, not dropped.
        rules: z.array(z.strictObject({ id: RuleId, ...RuleFields })).max(100_000),
        acl: z
          .object({ enabled: z.boolean(), defaultPolicy: z.enum(["allow", "block"]) })
          .optional(),
        auth: z
          .object({ methods: z.array(z.enum(["none", "userpass"])).min(1), anonymousUser: Name })
          .optional(),
        qos: ImportQos.optional(),
        dryRun: z.boolean().default(false),
      }),
    )
    .output(PolicyImportOutput)
    .mutation(async ({ ctx, input }) => {
      for (const [i, u] of input.users.entries()) {
        if (u.password && u.passwordHash) {
          throw new ApiError(
            "API_E_BAD_INPUT",
            `users[${i}].password: set password or passwordHash, not both`,
          );
        }
      }
      const users: PolicyState["users"] = await Promise.all(
        input.users.map(async (u) => ({
          username: u.username,
          passwordHash: u.passwordHash ?? (u.password ? await hashPassword(u.password) : null),
          enabled: u.enabled,
          groups: u.groups,
          maxConnections: u.maxConnections,
          qos: { ...NO_QOS, ...u.qos },
          quota: u.quota,
        })),
      );
      // Neither password nor hash given: the user keeps the one they have.
      const kept = new Set(
        input.users.filter((u) => !u.password && !u.passwordHash).map((u) => u.username),
      );
      const request = {
        actor: ctx.admin.name,
        action: "policy.import",
        target: `${users.length} users, ${input.groups.length} groups, ${input.rules.length} rules`,
        edit: (state: PolicyState) => {
          const current = new Map(state.users.map((u) => [u.username, u.passwordHash]));
          state.users = users.map((u) =>
            kept.has(u.username) ? { ...u, passwordHash: current.get(u.username) ?? null } : u,
          );
          state.groups = input.groups.map((g) => ({ ...g, qos: { ...NO_QOS, ...g.qos } }));
          state.rules = input.rules;
          if (input.acl) state.acl = input.acl;
          if (input.auth) state.auth = input.auth;
          if (input.qos) state.qos = input.qos;
          return {
            after: {
              users: users.length,
              groups: state.groups.length,
              rules: state.rules.length,
            },
            result: null,
          };
        },
      };
      if (input.dryRun) {
        const { diff } = await ctx.services.policy.preview(request);
        return { version: null, diff };
      }
      const { version } = await ctx.services.policy.change(request);
      return { version, diff: null };
    }),
});
