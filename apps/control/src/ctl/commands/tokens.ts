import { UsageError } from "../args";
import type { Command } from "../command";
import { emit, fields, table } from "../output";

const ROLES = [
  { role: "admin", can: "read everything and change everything (policy, nodes, tokens, sessions)" },
  {
    role: "viewer",
    can: "read everything (policy, nodes, sessions, stats, audit); change nothing",
  },
] as const;

export const tokensCommands: Command[] = [
  {
    name: "tokens list",
    summary: "list admins and viewers and their API tokens (never the token text)",
    examples: ["edgesocksctl tokens list"],
    async run({ api, json, out }) {
      const admins = await api.admins.list.query();
      emit(out, json, admins, () =>
        table(
          admins.flatMap((a) =>
            (a.tokens.length > 0 ? a.tokens : [null]).map((t) => ({ admin: a, token: t })),
          ),
          [
            ["NAME", (r) => r.admin.name],
            ["ROLE", (r) => r.admin.role],
            ["TOKEN_ID", (r) => r.token?.id],
            ["LABEL", (r) => r.token?.label],
            ["CREATED", (r) => r.token?.createdAt],
            ["REVOKED", (r) => r.token?.revokedAt],
          ],
        ),
      );
    },
  },
  {
    name: "tokens create",
    positionals: ["NAME"],
    summary: "mint an API token for NAME (with --role: a new admin or viewer)",
    details:
      "The token is printed once; store it now. Without --role, NAME must exist and gets another\ntoken (labelled --label).",
    flags: {
      role: { type: "string", value: "admin|viewer", help: "create NAME with this role" },
      label: { type: "string", value: "L", help: "what the token is for (default cli)" },
    },
    examples: [
      "edgesocksctl tokens create grafana --role viewer",
      "edgesocksctl tokens create ops --label ci",
    ],
    async run({ api, args, json, out }) {
      const name = args.positional(0);
      const role = args.oneOf("role", ["admin", "viewer"]);
      const made =
        role === undefined
          ? await api.admins.createToken.mutate({ name, label: args.str("label") ?? "cli" })
          : await api.admins.create.mutate({ name, role });
      emit(out, json, made, () =>
        [
          fields([
            ["name", name],
            ["role", role ?? "(unchanged)"],
            ...("id" in made ? [["token id", made.id] as const] : []),
          ]),
          `token: ${made.token}`,
          "(shown once: store it now)",
        ].join("\n"),
      );
    },
  },
  {
    name: "tokens revoke",
    positionals: ["ID"],
    summary: "revoke an API token by its id (tokens list shows them)",
    examples: ["edgesocksctl tokens revoke 7"],
    async run({ api, args, json, out }) {
      const id = Number(args.positional(0));
      if (!/^\d+$/.test(args.positional(0))) {
        throw new UsageError(`ID: expected a token id (a number), got "${args.positional(0)}"`);
      }
      const result = await api.admins.revokeToken.mutate({ id });
      emit(out, json, result, () => `token ${id} revoked`);
    },
  },
  {
    name: "tokens roles",
    summary: "what each role may do",
    offline: true,
    async run({ json, out }) {
      emit(out, json, ROLES, () =>
        table(ROLES, [
          ["ROLE", (r) => r.role],
          ["CAN", (r) => r.can],
        ]),
      );
    },
  },
];
