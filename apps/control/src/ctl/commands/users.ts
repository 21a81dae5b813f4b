import { type Args, UsageError } from "../args";
import type { Command, Inputs } from "../command";
import { emit, table } from "../output";
import { readSecretFromStdin } from "../stdin";

const PASSWORD_FLAGS = {
  password: {
    type: "string",
    value: "P",
    help: "password (hashed with argon2id by the control plane); visible in ps, prefer --password-stdin",
  },
  "password-stdin": { type: "boolean", help: "read the password from stdin" },
  "password-hash": {
    type: "string",
    value: "HASH",
    help: "an existing argon2id PHC string ($argon2id$…) instead of a password",
  },
} as const;

/** The password fields of users.create / users.update from the password flags (at most one). */
async function passwordOf(args: Args): Promise<{ password?: string; passwordHash?: string }> {
  const given = (["password", "password-stdin", "password-hash"] as const).filter(
    (f) => args.str(f) !== undefined || args.bool(f),
  );
  if (given.length > 1) {
    throw new UsageError(`--${given[0]} and --${given[1]} cannot be used together`);
  }
  if (args.bool("password-stdin")) return { password: await readSecretFromStdin("password-stdin") };
  const password = args.str("password");
  if (password !== undefined) return { password };
  const passwordHash = args.str("password-hash");
  return passwordHash === undefined ? {} : { passwordHash };
}

const setEnabled = (enabled: boolean): Command => ({
  name: enabled ? "users enable" : "users disable",
  positionals: ["NAME"],
  summary: enabled ? "let a user log in again" : "stop a user from logging in",
  details: enabled
    ? undefined
    : "Publishes a new snapshot; relays refuse the user's new sessions and close its open ones.",
  examples: [`edgesocksctl users ${enabled ? "enable" : "disable"} alice`],
  async run({ api, args, json, out }) {
    const username = args.positional(0);
    const result = await api.users.update.mutate({ username, patch: { enabled } });
    emit(
      out,
      json,
      result,
      () => `user ${username} ${enabled ? "enabled" : "disabled"} (snapshot v${result.version})`,
    );
  },
});

export const usersCommands: Command[] = [
  {
    name: "users add",
    positionals: ["NAME"],
    summary: "create a SOCKS user",
    details:
      "Without a password the user can only be used by auth methods that need none.\nEvery change publishes a new policy snapshot that the relays apply within a second.",
    flags: {
      ...PASSWORD_FLAGS,
      group: {
        type: "string",
        value: "G",
        multiple: true,
        help: "member of group G",
      },
      "max-connections": {
        type: "string",
        value: "N",
        help: "most concurrent connections of this user (default: the QoS limit)",
      },
      disabled: { type: "boolean", help: "create the user disabled" },
    },
    examples: [
      "edgesocksctl users add alice --password s3cret --group developers",
      'printf %s "$PW" | edgesocksctl users add bob --password-stdin --max-connections 20',
    ],
    async run({ api, args, json, out }) {
      const username = args.positional(0);
      const maxConnections = args.int("max-connections", { min: 0 });
      const input: Inputs["users"]["create"] = {
        username,
        ...(await passwordOf(args)),
        groups: args.list("group") ?? [],
        enabled: !args.bool("disabled"),
        ...(maxConnections === undefined ? {} : { maxConnections }),
      };
      const result = await api.users.create.mutate(input);
      emit(out, json, result, () => `user ${username} created (snapshot v${result.version})`);
    },
  },
  {
    name: "users list",
    summary: "list users with their groups and state",
    examples: ["edgesocksctl users list", "edgesocksctl users list --json | jq '.[].username'"],
    async run({ api, json, out }) {
      const users = await api.users.list.query();
      emit(out, json, users, () =>
        table(users, [
          ["USERNAME", (u) => u.username],
          ["ENABLED", (u) => (u.enabled ? "yes" : "no")],
          ["PASSWORD", (u) => (u.hasPassword ? "set" : "none")],
          ["GROUPS", (u) => u.groups],
          ["MAX_CONN", (u) => u.maxConnections],
        ]),
      );
    },
  },
  setEnabled(false),
  setEnabled(true),
  {
    name: "users passwd",
    positionals: ["NAME"],
    summary: "set or clear a user's password",
    flags: {
      ...PASSWORD_FLAGS,
      clear: { type: "boolean", help: "remove the password" },
    },
    examples: [
      'printf %s "$PW" | edgesocksctl users passwd alice --password-stdin',
      "edgesocksctl users passwd alice --clear",
    ],
    async run({ api, args, json, out }) {
      const username = args.positional(0);
      const password = await passwordOf(args);
      const clear = args.bool("clear");
      if (clear === Object.keys(password).length > 0) {
        throw new UsageError(
          "pass one of --password, --password-stdin, --password-hash or --clear",
        );
      }
      const result = await api.users.update.mutate({
        username,
        patch: clear ? { clearPassword: true } : password,
      });
      emit(out, json, result, () =>
        clear ? `password of ${username} removed` : `password of ${username} changed`,
      );
    },
  },
  {
    name: "users delete",
    positionals: ["NAME"],
    summary: "delete a user and the rules it owns",
    examples: ["edgesocksctl users delete alice"],
    async run({ api, args, json, out }) {
      const username = args.positional(0);
      const result = await api.users.delete.mutate({ username });
      emit(out, json, result, () => `user ${username} deleted (snapshot v${result.version})`);
    },
  },
];
