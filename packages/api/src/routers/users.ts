import { text } from "@edgesocks/policy/text";
import { hash } from "@node-rs/argon2";
import { z } from "zod";
import { ApiError } from "../errors";
import { loadPolicyState, NO_QOS, type UserState } from "../services/policy-state";
import { querySessionHistory, SessionHistoryFields, timeRange } from "../services/session-query";
import { adminProcedure, router, viewerProcedure } from "../trpc";
import { Name, QosOverrideInput } from "./inputs";
import { SessionPage, UserChangeOutput, UserView, VersionOutput } from "./outputs";

const PasswordHash = z
  .string()
  .startsWith("$argon2id$", 'must be an argon2id hash ("$argon2id$…")');

const UserCreateInput = z
  .object({
    username: Name,
    /** Hashed here with argon2id; never stored or logged in clear. */
    password: text({ min: 1, max: 1024 }).optional(),
    passwordHash: PasswordHash.optional(),
    enabled: z.boolean().default(true),
    groups: z.array(Name).default([]),
    maxConnections: z.int().min(0).nullable().default(null),
    qos: QosOverrideInput.default({}),
  })
  .refine((u) => !(u.password && u.passwordHash), {
    message: "set either password or passwordHash, not both",
    path: ["password"],
  });

const UserPatch = z.object({
  /** Renames the user (their own rules follow). */
  username: Name.optional(),
  password: text({ min: 1, max: 1024 }).optional(),
  passwordHash: PasswordHash.optional(),
  /** Removes the password: the user can no longer log in with one. */
  clearPassword: z.boolean().optional(),
  enabled: z.boolean().optional(),
  groups: z.array(Name).optional(),
  maxConnections: z.int().min(0).nullable().optional(),
  qos: QosOverrideInput.optional(),
});

/** A user as the admin API shows it: never the hash. */
export function userView(user: UserState) {
  const { passwordHash, ...rest } = user;
  return { ...rest, hasPassword: passwordHash !== null };
}

/** argon2id with the OWASP-recommended parameters (19 MiB, 2 iterations). */
export function hashPassword(password: string): Promise<string> {
  return hash(password, { algorithm: 2, memoryCost: 19456, timeCost: 2, parallelism: 1 });
}

function findUser(users: UserState[], username: string): UserState {
  const user = users.find((u) => u.username === username);
  if (user === undefined)
    throw new ApiError("API_E_NOT_FOUND", `user "${username}" does not exist`);
  return user;
}

export const usersRouter = router({
  list: viewerProcedure.output(z.array(UserView)).query(async ({ ctx }) => {
    const state = await loadPolicyState(ctx.services.database.db);
    return state.users.map(userView);
  }),

  get: viewerProcedure
    .input(z.object({ username: Name }))
    .output(UserView)
    .query(async ({ ctx, input }) => {
      const state = await loadPolicyState(ctx.services.database.db);
      return userView(findUser(state.users, input.username));
    }),

  create: adminProcedure
    .input(UserCreateInput)
    .output(UserChangeOutput)
    .mutation(async ({ ctx, input }) => {
      const passwordHash =
        input.passwordHash ?? (input.password ? await hashPassword(input.password) : null);
      const user: UserState = {
        username: input.username,
        passwordHash,
        enabled: input.enabled,
        groups: input.groups,
        maxConnections: input.maxConnections,
        qos: { ...NO_QOS, ...input.qos },
        quota: null,
      };
      return ctx.services.policy
        .change({
          actor: ctx.admin.name,
          action: "users.create",
          target: `user ${input.username}`,
          edit: (state) => {
            if (state.users.some((u) => u.username === input.username)) {
              throw new ApiError("API_E_CONFLICT", `username: "${input.username}" already exists`);
            }
            state.users.push(user);
            return { after: userView(user), result: userView(user) };
          },
        })
        .then(({ version, result }) => ({ version, user: result }));
    }),

  update: adminProcedure
    .input(z.object({ username: Name, patch: UserPatch }))
    .output(UserChangeOutput)
    .mutation(async ({ ctx, input }) => {
      const { patch } = input;
      const newHash =
        patch.passwordHash ?? (patch.password ? await hashPassword(patch.password) : undefined);
      return ctx.services.policy
        .change({
          actor: ctx.admin.name,
          action: "users.update",
          target: `user ${input.username}`,
          edit: (state) => {
            const user = findUser(state.users, input.username);
            const before = userView(user);
            if (patch.username !== undefined && patch.username !== user.username) {
              if (state.users.some((u) => u.username === patch.username)) {
                throw new ApiError(
                  "API_E_CONFLICT",
                  `username: "${patch.username}" already exists`,
                );
              }
              for (const rule of state.rules) {
                if (rule.owner.kind === "user" && rule.owner.name === user.username) {
                  rule.owner.name = patch.username;
                }
              }
              user.username = patch.username;
            }
            if (patch.clearPassword) user.passwordHash = null;
            if (newHash !== undefined) user.passwordHash = newHash;
            if (patch.enabled !== undefined) user.enabled = patch.enabled;
            if (patch.groups !== undefined) user.groups = patch.groups;
            if (patch.maxConnections !== undefined) user.maxConnections = patch.maxConnections;
            if (patch.qos !== undefined) user.qos = { ...user.qos, ...patch.qos };
            return { before, after: userView(user), result: userView(user) };
          },
        })
        .then(({ version, result }) => ({ version, user: result }));
    }),

  /** Deletes the user and the rules they own. */
  delete: adminProcedure
    .input(z.object({ username: Name }))
    .output(VersionOutput)
    .mutation(({ ctx, input }) =>
      ctx.services.policy
        .change({
          actor: ctx.admin.name,
          action: "users.delete",
          target: `user ${input.username}`,
          edit: (state) => {
            const user = findUser(state.users, input.username);
            state.users = state.users.filter((u) => u !== user);
            const owned = state.rules.filter(
              (r) => r.owner.kind === "user" && r.owner.name === user.username,
            );
            state.rules = state.rules.filter((r) => !owned.includes(r));
            return { before: { user: userView(user), rules: owned }, result: null };
          },
        })
        .then(({ version }) => ({ version })),
    ),

  /** The user's sessions, newest first by default (sessions.history with `user` set). */
  sessions: viewerProcedure
    .input(
      SessionHistoryFields.omit({ user: true }).extend({ username: Name }).superRefine(timeRange()),
    )
    .output(SessionPage)
    .query(({ ctx, input }) => {
      const { username, ...rest } = input;
      return querySessionHistory(ctx.services.database.db, { ...rest, user: username });
    }),
});
