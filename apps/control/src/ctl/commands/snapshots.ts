import { UsageError } from "../args";
import type { Command, Outputs } from "../command";
import { emit, table } from "../output";

type Diff = Outputs["snapshots"]["diff"];

function version(text: string, what: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || n < 1)
    throw new UsageError(`${what}: expected a snapshot version, got "${text}"`);
  return n;
}

const SECRET = new Set(["password", "passwordHash"]);

/** `field: before → after` for each changed field; secrets only say that they changed. */
function changes(before: object, after: object): string {
  const b = before as Record<string, unknown>;
  const a = after as Record<string, unknown>;
  return Object.keys({ ...b, ...a })
    .filter((k) => JSON.stringify(b[k]) !== JSON.stringify(a[k]))
    .map((k) =>
      SECRET.has(k)
        ? `${k} changed`
        : `${k}: ${JSON.stringify(b[k]) ?? "-"} → ${JSON.stringify(a[k]) ?? "-"}`,
    )
    .join("; ");
}

/** One line per added (+), removed (-) and changed (~) user, group, rule and setting. */
export function renderDiff(diff: Diff): string {
  const lines: string[] = [`snapshot v${diff.from} → v${diff.to}`];
  const section = <T extends object>(
    kind: string,
    list: { added: T[]; removed: T[]; changed: { before: T; after: T }[] },
    key: (item: T) => string,
    describe: (item: T) => string = () => "",
  ) => {
    for (const item of list.added) lines.push(`+ ${kind} ${key(item)}${describe(item)}`);
    for (const item of list.removed) lines.push(`- ${kind} ${key(item)}`);
    for (const { before, after } of list.changed) {
      lines.push(`~ ${kind} ${key(after)}  ${changes(before, after)}`);
    }
  };
  section("user", diff.users, (u) => u.username);
  section("group", diff.groups, (g) => g.name);
  section(
    "rule",
    diff.rules,
    (r) => r.id,
    (r) =>
      `  ${r.owner.kind}:${r.owner.name} ${r.action} ${r.destinations.join(",")} ports ${r.ports.join(",")}` +
      (r.sources ? ` from ${r.sources.join(",")}` : "") +
      (r.schedule ? ` when ${JSON.stringify(r.schedule)}` : ""),
  );
  if (diff.rulesReordered) lines.push("~ rules reordered");
  for (const [name, { before, after }] of Object.entries(diff.settings)) {
    lines.push(`~ ${name}  ${JSON.stringify(before)} → ${JSON.stringify(after)}`);
  }
  if (lines.length === 1) lines.push("(no changes)");
  return lines.join("\n");
}

export const snapshotsCommands: Command[] = [
  {
    name: "snapshots list",
    summary: "list published policy snapshots, newest first",
    flags: {
      limit: { type: "string", value: "N", help: "at most N (default 20, at most 500)" },
      before: { type: "string", value: "V", help: "only versions below V (the next page)" },
    },
    examples: ["edgesocksctl snapshots list --limit 5"],
    async run({ api, args, json, out }) {
      const before = args.int("before", { min: 1 });
      const page = await api.snapshots.list.query({
        limit: args.int("limit", { min: 1, max: 500 }) ?? 20,
        ...(before === undefined ? {} : { before }),
      });
      emit(out, json, page, () => {
        const rows = table(page.items, [
          ["VERSION", (s) => s.version],
          ["CREATED", (s) => s.createdAt],
          ["BY", (s) => s.createdBy],
          ["SUMMARY", (s) => s.summary],
        ]);
        return page.nextBefore === null ? rows : `${rows}\n(more: --before ${page.nextBefore})`;
      });
    },
  },
  {
    name: "snapshots diff",
    positionals: ["FROM", "TO"],
    summary: "show what changed between two snapshot versions",
    examples: ["edgesocksctl snapshots diff 3 5"],
    async run({ api, args, json, out }) {
      const diff = await api.snapshots.diff.query({
        from: version(args.positional(0), "FROM"),
        to: version(args.positional(1), "TO"),
      });
      emit(out, json, diff, () => renderDiff(diff));
    },
  },
  {
    name: "snapshots rollback",
    positionals: ["VERSION"],
    summary: "publish a new snapshot with the content of an older one",
    details: "The version number still goes up: relays apply the rollback like any other change.",
    examples: ["edgesocksctl snapshots rollback 3"],
    async run({ api, args, json, out }) {
      const target = version(args.positional(0), "VERSION");
      const result = await api.snapshots.rollback.mutate({ version: target });
      emit(
        out,
        json,
        result,
        () => `rolled back to the content of v${target}: published as v${result.version}`,
      );
    },
  },
];
