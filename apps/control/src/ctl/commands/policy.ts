import { readFile, writeFile } from "node:fs/promises";
import { UsageError } from "../args";
import type { Command } from "../command";
import {
  formatOf,
  jsonToImport,
  type PolicyFormat,
  policyToToml,
  tomlToImport,
} from "../policy-file";
import { renderDiff } from "./snapshots";

const FORMATS = ["json", "toml"] as const satisfies readonly PolicyFormat[];

async function readInput(file: string): Promise<string> {
  if (file !== "-") return readFile(file, "utf8");
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

export const policyCommands: Command[] = [
  {
    name: "policy export",
    summary: "write the whole policy as JSON or a RustSocks acl.toml (for review in Git)",
    details: `JSON (the default) is lossless: users (hasPassword, never a hash), groups, rules in order,
acl, auth and qos settings. --format toml writes a RustSocks acl.toml: users, groups, rules
(with their EdgeSocks id) and the default policy only.`,
    flags: {
      format: { type: "string", value: "json|toml", help: "the file format (default json)" },
      output: { type: "string", value: "FILE", help: "write to FILE instead of stdout" },
    },
    examples: [
      "edgesocksctl policy export > policy.json",
      "edgesocksctl policy export --format toml --output acl.toml",
    ],
    async run({ api, args, out }) {
      const format = args.oneOf("format", FORMATS) ?? "json";
      const policy = await api.policy.export.query();
      const text =
        format === "toml" ? policyToToml(policy) : `${JSON.stringify(policy, null, 2)}\n`;
      const file = args.str("output");
      if (file === undefined) process.stdout.write(text);
      else {
        await writeFile(file, text);
        out(`policy v${policy.version} written to ${file} (${format})`);
      }
    },
  },
  {
    name: "policy import",
    positionals: ["FILE"],
    summary: "replace the whole policy from a JSON or acl.toml file, as one snapshot version",
    details: `FILE is a JSON policy (as policy export writes it) or a RustSocks acl.toml; - reads stdin
(then pass --format). Users, groups and rules not in the file are removed. A user keeps their
password unless the file gives password or passwordHash (JSON). From an acl.toml, users' and
groups' limits and QoS, and the auth and qos settings, stay as they are.
--dry-run prints what would change and stores nothing.`,
    flags: {
      format: { type: "string", value: "json|toml", help: "the file format (default: by name)" },
      "dry-run": { type: "boolean", help: "show the diff, change nothing" },
    },
    examples: [
      "edgesocksctl policy import acl.toml --dry-run",
      "edgesocksctl policy import policy.json",
    ],
    async run({ api, args, json, out }) {
      const file = args.positional(0);
      if (file === "-" && args.str("format") === undefined)
        throw new UsageError("FILE -: pass --format json|toml for stdin");
      const format = formatOf(file, args.oneOf("format", FORMATS));
      const text = await readInput(file);
      const input =
        format === "toml"
          ? tomlToImport(text, await api.policy.export.query())
          : jsonToImport(text);
      const result = await api.policy.import.mutate({ ...input, dryRun: args.bool("dry-run") });
      if (json) out(JSON.stringify(result, null, 2));
      else if (result.diff) out(`${renderDiff(result.diff)}\n(dry run: nothing was changed)`);
      else out(`policy imported from ${file} (snapshot v${result.version})`);
    },
  },
];
