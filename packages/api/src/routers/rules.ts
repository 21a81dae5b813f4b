import { randomBytes } from "node:crypto";
import { z } from "zod";
import { ApiError } from "../errors";
import { loadPolicyState, type RuleState } from "../services/policy-state";
import { adminProcedure, router, viewerProcedure } from "../trpc";
import { Owner, RuleFields, RuleId, RulePatchFields } from "./inputs";
import { RuleChangeOutput, RuleView, VersionOutput } from "./outputs";

const RuleCreateInput = z.object({
  /** Generated (`r-` and 8 hex digits) when absent. */
  id: RuleId.optional(),
  ...RuleFields,
  /** Index in the rule list (ties between equal action and priority go to the earlier rule); default: last. */
  position: z.int().min(0).optional(),
});

// Built from the fields without defaults: `{ position }` alone must not reset the rest.
const RulePatch = z
  .object({ ...RulePatchFields, position: RuleCreateInput.shape.position })
  .partial();

function ruleView(rule: RuleState, position: number) {
  return { ...rule, position };
}

function indexOfRule(rules: RuleState[], id: string): number {
  const index = rules.findIndex((r) => r.id === id);
  if (index < 0) throw new ApiError("API_E_NOT_FOUND", `rule "${id}" does not exist`);
  return index;
}

export const rulesRouter = router({
  list: viewerProcedure
    .input(z.object({ owner: Owner.optional() }).default({}))
    .output(z.array(RuleView))
    .query(async ({ ctx, input }) => {
      const state = await loadPolicyState(ctx.services.database.db);
      return state.rules
        .map(ruleView)
        .filter(
          (r) =>
            input.owner === undefined ||
            (r.owner.kind === input.owner.kind && r.owner.name === input.owner.name),
        );
    }),

  get: viewerProcedure
    .input(z.object({ id: RuleId }))
    .output(RuleView)
    .query(async ({ ctx, input }) => {
      const state = await loadPolicyState(ctx.services.database.db);
      const index = indexOfRule(state.rules, input.id);
      return ruleView(state.rules[index]!, index);
    }),

  create: adminProcedure
    .input(RuleCreateInput)
    .output(RuleChangeOutput)
    .mutation(({ ctx, input }) => {
      const id = input.id ?? `r-${randomBytes(4).toString("hex")}`;
      return ctx.services.policy
        .change({
          actor: ctx.admin.name,
          action: "rules.create",
          target: `rule ${id}`,
          edit: (state) => {
            if (state.rules.some((r) => r.id === id)) {
              throw new ApiError("API_E_CONFLICT", `id: rule "${id}" already exists`);
            }
            const { position, id: _id, ...fields } = input;
            const rule: RuleState = { id, ...fields };
            const at = Math.min(position ?? state.rules.length, state.rules.length);
            state.rules.splice(at, 0, rule);
            return { after: ruleView(rule, at), result: ruleView(rule, at) };
          },
        })
        .then(({ version, result }) => ({ version, rule: result }));
    }),

  update: adminProcedure
    .input(z.object({ id: RuleId, patch: RulePatch }))
    .output(RuleChangeOutput)
    .mutation(({ ctx, input }) =>
      ctx.services.policy
        .change({
          actor: ctx.admin.name,
          action: "rules.update",
          target: `rule ${input.id}`,
          edit: (state) => {
            const index = indexOfRule(state.rules, input.id);
            const rule = state.rules[index]!;
            const before = ruleView({ ...rule }, index);
            const { position, ...fields } = input.patch;
            Object.assign(
              rule,
              Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined)),
            );
            let at = index;
            if (position !== undefined) {
              state.rules.splice(index, 1);
              at = Math.min(position, state.rules.length);
              state.rules.splice(at, 0, rule);
            }
            return { before, after: ruleView(rule, at), result: ruleView(rule, at) };
          },
        })
        .then(({ version, result }) => ({ version, rule: result })),
    ),

  delete: adminProcedure
    .input(z.object({ id: RuleId }))
    .output(VersionOutput)
    .mutation(({ ctx, input }) =>
      ctx.services.policy
        .change({
          actor: ctx.admin.name,
          action: "rules.delete",
          target: `rule ${input.id}`,
          edit: (state) => {
            const index = indexOfRule(state.rules, input.id);
            const [rule] = state.rules.splice(index, 1);
            return { before: rule, result: null };
          },
        })
        .then(({ version }) => ({ version })),
    ),
});
