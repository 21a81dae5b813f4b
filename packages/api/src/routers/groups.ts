import { z } from "zod";
import { ApiError } from "../errors";
import { type GroupState, loadPolicyState, NO_QOS } from "../services/policy-state";
import { adminProcedure, router, viewerProcedure } from "../trpc";
import { Name, QosOverrideInput } from "./inputs";
import { GroupChangeOutput, GroupView, VersionOutput } from "./outputs";

function findGroup(groups: GroupState[], name: string): GroupState {
  const group = groups.find((g) => g.name === name);
  if (group === undefined) throw new ApiError("API_E_NOT_FOUND", `group "${name}" does not exist`);
  return group;
}

export const groupsRouter = router({
  list: viewerProcedure.output(z.array(GroupView)).query(async ({ ctx }) => {
    const state = await loadPolicyState(ctx.services.database.db);
    return state.groups.map((group) => ({
      ...group,
      members: state.users.filter((u) => u.groups.includes(group.name)).map((u) => u.username),
    }));
  }),

  get: viewerProcedure
    .input(z.object({ name: Name }))
    .output(GroupView)
    .query(async ({ ctx, input }) => {
      const state = await loadPolicyState(ctx.services.database.db);
      const group = findGroup(state.groups, input.name);
      return {
        ...group,
        members: state.users.filter((u) => u.groups.includes(group.name)).map((u) => u.username),
      };
    }),

  create: adminProcedure
    .input(
      z.object({
        name: Name,
        maxConnectionsPerUser: z.int().min(0).nullable().default(null),
        qos: QosOverrideInput.default({}),
      }),
    )
    .output(GroupChangeOutput)
    .mutation(({ ctx, input }) =>
      ctx.services.policy
        .change({
          actor: ctx.admin.name,
          action: "groups.create",
          target: `group ${input.name}`,
          edit: (state) => {
            if (state.groups.some((g) => g.name === input.name)) {
              throw new ApiError("API_E_CONFLICT", `name: group "${input.name}" already exists`);
            }
            const group: GroupState = {
              name: input.name,
              maxConnectionsPerUser: input.maxConnectionsPerUser,
              qos: { ...NO_QOS, ...input.qos },
              quota: null,
            };
            state.groups.push(group);
            return { after: group, result: group };
          },
        })
        .then(({ version, result }) => ({ version, group: result })),
    ),

  update: adminProcedure
    .input(
      z.object({
        name: Name,
        patch: z.object({
          /** Renames the group; members and rules follow. */
          name: Name.optional(),
          maxConnectionsPerUser: z.int().min(0).nullable().optional(),
          qos: QosOverrideInput.optional(),
        }),
      }),
    )
    .output(GroupChangeOutput)
    .mutation(({ ctx, input }) =>
      ctx.services.policy
        .change({
          actor: ctx.admin.name,
          action: "groups.update",
          target: `group ${input.name}`,
          edit: (state) => {
            const group = findGroup(state.groups, input.name);
            const before = { ...group };
            const { patch } = input;
            if (patch.name !== undefined && patch.name !== group.name) {
              if (state.groups.some((g) => g.name === patch.name)) {
                throw new ApiError("API_E_CONFLICT", `name: group "${patch.name}" already exists`);
              }
              for (const user of state.users) {
                user.groups = user.groups.map((g) => (g === group.name ? patch.name! : g));
              }
              for (const rule of state.rules) {
                if (rule.owner.kind === "group" && rule.owner.name === group.name) {
                  rule.owner.name = patch.name;
                }
              }
              group.name = patch.name;
            }
            if (patch.maxConnectionsPerUser !== undefined) {
              group.maxConnectionsPerUser = patch.maxConnectionsPerUser;
            }
            if (patch.qos !== undefined) group.qos = { ...group.qos, ...patch.qos };
            return { before, after: group, result: group };
          },
        })
        .then(({ version, result }) => ({ version, group: result })),
    ),

  /**
   * Deletes a group. Refused while users are members or rules belong to it, unless `force`,
   * which also removes the memberships and the group's rules.
   */
  delete: adminProcedure
    .input(z.object({ name: Name, force: z.boolean().default(false) }))
    .output(VersionOutput)
    .mutation(({ ctx, input }) =>
      ctx.services.policy
        .change({
          actor: ctx.admin.name,
          action: "groups.delete",
          target: `group ${input.name}`,
          edit: (state) => {
            const group = findGroup(state.groups, input.name);
            state.groups = state.groups.filter((g) => g !== group);
            const owned = state.rules.filter(
              (r) => r.owner.kind === "group" && r.owner.name === group.name,
            );
            if (input.force) {
              for (const user of state.users) {
                user.groups = user.groups.filter((g) => g !== group.name);
              }
              state.rules = state.rules.filter((r) => !owned.includes(r));
            }
            return { before: { group, rules: owned }, result: null };
          },
        })
        .then(({ version }) => ({ version })),
    ),
});
