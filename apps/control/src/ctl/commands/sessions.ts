import type { Command, Inputs } from "../command";
import { bytes, emit, fields, table } from "../output";

type HistoryInput = Inputs["sessions"]["history"];

const STATUSES = ["closed", "failed", "rejected"] as const;
const SORT_FIELDS = ["startedAt", "endedAt", "bytes", "duration"] as const;

export const sessionsCommands: Command[] = [
  {
    name: "sessions list",
    summary: "search the session history (ended sessions of every relay)",
    details:
      "Times are ISO (2026-01-31T12:00:00Z) or an age: 90s, 15m, 2h, 7d, 1w ago. Pages: pass the\nprinted --cursor to get the next one.",
    flags: {
      user: { type: "string", value: "U", help: "sessions of user U" },
      node: { type: "string", value: "N", help: "sessions on relay node N" },
      region: { type: "string", value: "R", help: "sessions in region R" },
      dest: {
        type: "string",
        value: "HOST|*.DOMAIN|IP|CIDR",
        help: "destination host, a domain's subdomains, or resolved address(es)",
      },
      status: {
        type: "string",
        value: "S",
        multiple: true,
        help: "closed | failed | rejected",
      },
      decision: { type: "string", value: "allow|block", help: "the ACL decision" },
      command: { type: "string", value: "connect|bind|udp", help: "the SOCKS command" },
      from: { type: "string", value: "TIME", help: "started at or after TIME" },
      to: { type: "string", value: "TIME", help: "started before TIME" },
      "min-bytes": { type: "string", value: "N", help: "at least N bytes up + down" },
      sort: {
        type: "string",
        value: "FIELD",
        help: "startedAt | endedAt | bytes | duration (default startedAt)",
      },
      asc: { type: "boolean", help: "ascending (default: descending)" },
      limit: { type: "string", value: "N", help: "page size (default 50, at most 500)" },
      cursor: { type: "string", value: "C", help: "the page after the one that printed C" },
    },
    examples: [
      "edgesocksctl sessions list --user alice --from 1h",
      "edgesocksctl sessions list --dest '*.example.com' --status rejected --limit 100",
      "edgesocksctl sessions list --dest 10.0.0.0/8 --sort bytes --json",
    ],
    async run({ api, args, json, out }) {
      const input: HistoryInput = {
        limit: args.int("limit", { min: 1, max: 500 }) ?? 50,
        sort: {
          field: args.oneOf("sort", SORT_FIELDS) ?? "startedAt",
          direction: args.bool("asc") ? "asc" : "desc",
        },
      };
      for (const [flag, key] of [
        ["user", "user"],
        ["node", "node"],
        ["region", "region"],
        ["dest", "destination"],
        ["cursor", "cursor"],
      ] as const) {
        const value = args.str(flag);
        if (value !== undefined) input[key] = value;
      }
      const status = args.listOf("status", STATUSES);
      if (status?.length) input.status = status;
      const decision = args.oneOf("decision", ["allow", "block"]);
      if (decision !== undefined) input.decision = decision;
      const command = args.oneOf("command", ["connect", "bind", "udp"]);
      if (command !== undefined) input.command = command;
      const from = args.time("from");
      if (from !== undefined) input.from = from;
      const to = args.time("to");
      if (to !== undefined) input.to = to;
      const minBytes = args.int("min-bytes", { min: 0 });
      if (minBytes !== undefined) input.minBytes = minBytes;
      const page = await api.sessions.history.query(input);
      emit(out, json, page, () => {
        const rows = table(page.items, [
          ["STARTED", (s) => s.startedAt],
          ["ID", (s) => s.id],
          ["NODE", (s) => s.node],
          ["USER", (s) => s.user],
          ["CLIENT", (s) => s.clientAddress],
          ["CMD", (s) => s.command],
          [
            "DESTINATION",
            (s) => `${s.destinationHost ?? s.destinationAddress}:${s.destinationPort}`,
          ],
          ["UP", (s) => bytes(s.bytesUp)],
          ["DOWN", (s) => bytes(s.bytesDown)],
          ["MS", (s) => s.durationMs],
          ["STATUS", (s) => s.status],
          ["ACL", (s) => (s.ruleId ? `${s.decision} (${s.ruleId})` : s.decision)],
        ]);
        return page.nextCursor ? `${rows}\n(more: --cursor ${page.nextCursor})` : rows;
      });
    },
  },
  {
    name: "sessions get",
    positionals: ["ID"],
    summary: "show one session record",
    examples: ["edgesocksctl sessions get 4f6c0e7a-8b1d-4c1e-9f7e-2d3c4b5a6978"],
    async run({ api, args, json, out }) {
      const session = await api.sessions.get.query({ id: args.positional(0) });
      emit(out, json, session, () => fields(Object.entries(session)));
    },
  },
  {
    name: "sessions terminate",
    positionals: ["ID"],
    summary: "close an active session on the relay that holds it",
    details:
      "The control plane finds the relay from its live session lists; --node sends the command to\nthat relay even when the session is not listed (yet).",
    flags: { node: { type: "string", value: "N", help: "the relay node holding the session" } },
    examples: ["edgesocksctl sessions terminate 4f6c0e7a-8b1d-4c1e-9f7e-2d3c4b5a6978"],
    async run({ api, args, json, out }) {
      const id = args.positional(0);
      const node = args.str("node");
      const result = await api.sessions.terminate.mutate(
        node === undefined ? { id } : { id, node },
      );
      emit(out, json, result, () => `terminate of session ${id} sent to node ${result.node}`);
    },
  },
];
