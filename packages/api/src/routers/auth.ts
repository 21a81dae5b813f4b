import { nodes } from "@edgesocks/db/schema";
import { GroupSource, ScopeName, SocksMethod } from "@edgesocks/policy/auth-scope";
import { asc, eq } from "drizzle-orm";
import { z } from "zod";
import type { Context } from "../context";
import { ApiError } from "../errors";
import { type AuthScopesState, loadPolicyState } from "../services/policy-state";
import { adminProcedure, router, viewerProcedure } from "../trpc";
import { Name } from "./inputs";
import { AuthChangeOutput, AuthScopes, AuthScopesChangeOutput, AuthSettings } from "./outputs";

/** auth.setScope's input: one scope's method, or null to remove the override (or the default). */
export const SetAuthScopeInput = z
  .strictObject({
    /** `fleet`: the default for every relay; `region` and `node`: an override by name. */
    scope: z.enum(["fleet", "region", "node"]),
    /** The region or node name; not given for `fleet`. */
    name: ScopeName.optional(),
    /** null: remove the override (for `fleet`: relays without an override offer auth.methods). */
    method: SocksMethod.nullable(),
    /** Where users' groups come from on the relay. @default "policy" */
    groupSource: GroupSource.default("policy"),
  })
  .superRefine((input, ctx) => {
    if (input.scope === "fleet" && input.name !== undefined)
      ctx.addIssue({ code: "custom", path: ["name"], message: "the fleet default takes no name" });
    if (input.scope !== "fleet" && input.name === undefined)
      ctx.addIssue({
        code: "custom",
        path: ["name"],
        message: `a ${input.scope} name is required`,
      });
  });

/** Refuses an override for a node or region the fleet does not have: it could never apply. */
async function checkScopeName(ctx: Context, scope: "region" | "node", name: string) {
  const { db } = ctx.services.database;
  if (scope === "node") {
    const node = await db.select({ id: nodes.id }).from(nodes).where(eq(nodes.name, name)).get();
    if (node === undefined)
      throw new ApiError("API_E_NOT_FOUND", `name: node "${name}" does not exist (nodes.list)`);
    return;
  }
  const regions = (
    await db.selectDistinct({ region: nodes.region }).from(nodes).orderBy(asc(nodes.region))
  ).map((r) => r.region);
  if (!regions.includes(name)) {
    const known = regions.length > 0 ? regions.map((r) => `"${r}"`).join(", ") : "none yet";
    throw new ApiError(
      "API_E_NOT_FOUND",
      `name: no node is in region "${name}" (regions: ${known}); enroll a node there first`,
    );
  }
}

const copyScopes = (scopes: AuthScopesState): AuthScopesState => structuredClone(scopes);

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

  /** Fleet mode: the method relays use, by scope (node over region over the fleet default). */
  scopes: viewerProcedure
    .output(AuthScopes)
    .query(async ({ ctx }) => (await loadPolicyState(ctx.services.database.db)).authScopes),

  /** Sets or removes the fleet default or one region's or node's method; a new snapshot. */
  setScope: adminProcedure
    .input(SetAuthScopeInput)
    .output(AuthScopesChangeOutput)
    .mutation(async ({ ctx, input }) => {
      if (input.scope !== "fleet" && input.method !== null)
        await checkScopeName(ctx, input.scope, input.name!);
      const assignment =
        input.method === null ? null : { method: input.method, groupSource: input.groupSource };
      const target =
        input.scope === "fleet"
          ? "auth method: fleet default"
          : `auth method: ${input.scope} ${input.name}`;
      const { version, result } = await ctx.services.policy.change({
        actor: ctx.admin.name,
        action: "auth.setScope",
        target,
        edit: (state) => {
          const before = copyScopes(state.authScopes);
          const scopes = state.authScopes;
          if (input.scope === "fleet") scopes.default = assignment;
          else {
            const record = input.scope === "region" ? scopes.regions : scopes.nodes;
            if (assignment === null) {
              if (!Object.hasOwn(record, input.name!))
                throw new ApiError(
                  "API_E_NOT_FOUND",
                  `name: ${input.scope} "${input.name}" has no override to remove`,
                );
              delete record[input.name!];
            } else record[input.name!] = assignment;
          }
          return { before, after: scopes, result: copyScopes(scopes) };
        },
      });
      return { version, scopes: result };
    }),
});
