import type { Command, Inputs } from "../command";
import { emit, table } from "../output";

export const auditCommands: Command[] = [
  {
    name: "audit list",
    summary: "who changed what, newest first (secrets redacted)",
    flags: {
      actor: { type: "string", value: "NAME", help: "changes made by admin NAME" },
      action: { type: "string", value: "PROC", help: "one procedure, e.g. users.create" },
      limit: { type: "string", value: "N", help: "page size (default 50, at most 500)" },
      cursor: { type: "string", value: "C", help: "the page after the one that printed C" },
    },
    examples: [
      "edgesocksctl audit list --limit 20",
      "edgesocksctl audit list --actor admin --action policy.import --json",
    ],
    async run({ api, args, json, out }) {
      const input: NonNullable<Inputs["audit"]["list"]> = {
        limit: args.int("limit", { min: 1, max: 500 }) ?? 50,
      };
      const cursor = args.int("cursor", { min: 1 });
      if (cursor !== undefined) input.cursor = cursor;
      const actor = args.str("actor");
      if (actor !== undefined) input.actor = actor;
      const action = args.str("action");
      if (action !== undefined) input.action = action;
      const page = await api.audit.list.query(input);
      emit(out, json, page, () => {
        const rows = table(page.items, [
          ["AT", (e) => e.at],
          ["ACTOR", (e) => e.actor],
          ["ACTION", (e) => e.action],
          ["TARGET", (e) => e.target],
          ["SNAPSHOT", (e) => e.snapshotVersion],
        ]);
        return page.nextCursor ? `${rows}\n(more: --cursor ${page.nextCursor})` : rows;
      });
    },
  },
];
