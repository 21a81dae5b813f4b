import type { Command } from "../command";
import { emit, table } from "../output";

export const groupsCommands: Command[] = [
  {
    name: "groups add",
    positionals: ["NAME"],
    summary: "create a group (users join it with users add --group)",
    flags: {
      "max-connections-per-user": {
        type: "string",
        value: "N",
        help: "most concurrent connections of each member",
      },
    },
    examples: ["edgesocksctl groups add developers --max-connections-per-user 50"],
    async run({ api, args, json, out }) {
      const name = args.positional(0);
      const max = args.int("max-connections-per-user", { min: 0 });
      const result = await api.groups.create.mutate({
        name,
        ...(max === undefined ? {} : { maxConnectionsPerUser: max }),
      });
      emit(out, json, result, () => `group ${name} created (snapshot v${result.version})`);
    },
  },
  {
    name: "groups list",
    summary: "list groups with their members",
    examples: ["edgesocksctl groups list --json"],
    async run({ api, json, out }) {
      const groups = await api.groups.list.query();
      emit(out, json, groups, () =>
        table(groups, [
          ["NAME", (g) => g.name],
          ["MAX_CONN_PER_USER", (g) => g.maxConnectionsPerUser],
          ["MEMBERS", (g) => g.members],
        ]),
      );
    },
  },
  {
    name: "groups delete",
    positionals: ["NAME"],
    summary: "delete a group",
    details:
      "Refused while users are members or rules belong to the group, unless --force, which also\nremoves the memberships and the group's rules.",
    flags: {
      force: { type: "boolean", help: "also remove memberships and the group's rules" },
    },
    examples: ["edgesocksctl groups delete contractors --force"],
    async run({ api, args, json, out }) {
      const name = args.positional(0);
      const result = await api.groups.delete.mutate({ name, force: args.bool("force") });
      emit(out, json, result, () => `group ${name} deleted (snapshot v${result.version})`);
    },
  },
];
