import { COMMON_FLAGS, type Flags } from "./args";
import type { Command } from "./command";

export const DEFAULT_URL = "http://127.0.0.1:8080";

export const GLOBAL_FLAGS = `Global flags (anywhere on the line):
  --url URL        control plane base URL (env EDGESOCKS_URL; default ${DEFAULT_URL})
  --token TOKEN    admin or viewer API token, esa_… (env EDGESOCKS_TOKEN; the environment
                   keeps it out of ps and shell history)`;

export const EXIT_CODES = `Exit codes: 0 done; 1 the command failed; 2 bad command line (nothing was called).
Errors are one line on stderr ("edgesocksctl: …"), API errors with their code, e.g.
(API_E_NOT_FOUND).`;

/** `users add NAME`. */
export const synopsis = (c: Command) => [c.name, ...(c.positionals ?? [])].join(" ");

const commandList = (commands: readonly Command[]) => {
  const width = Math.max(...commands.map((c) => synopsis(c).length));
  return commands.map((c) => `  ${synopsis(c).padEnd(width)}  ${c.summary}`).join("\n");
};

export function globalHelp(commands: readonly Command[], version: string): string {
  return `edgesocksctl ${version}: manage an EdgeSocks fleet through the control plane API

Usage:
  edgesocksctl [--url URL] [--token TOKEN] COMMAND [ARGS] [FLAGS]
  edgesocksctl COMMAND --help      flags and examples of one command
  edgesocksctl GROUP --help        the commands of one group (users, rules, …)

${GLOBAL_FLAGS}
  --json           machine output: the API result as JSON on stdout (every command)
  -h, --help       this help
  -V, --version    print the version

Commands:
${commandList(commands)}

Examples:
  export EDGESOCKS_URL=${DEFAULT_URL} EDGESOCKS_TOKEN="$(cat data/admin-token)"
  edgesocksctl users add alice --password s3cret --group developers
  edgesocksctl acl test --user alice --dest example.com --port 443
  edgesocksctl sessions list --user alice --from 1h --json
  edgesocksctl policy export --format toml > acl.toml
  source <(edgesocksctl completion bash)

${EXIT_CODES}`;
}

export function groupHelp(group: string, commands: readonly Command[]): string {
  return `Usage: edgesocksctl ${group} COMMAND [ARGS] [FLAGS]

Commands:
${commandList(commands)}

Run edgesocksctl ${group} COMMAND --help for its flags.`;
}

function flagLines(flags: Flags): string {
  const entries = Object.entries(flags).map(([name, flag]) => {
    const left = `${name === "help" ? "-h, " : ""}--${name}${flag.value ? ` ${flag.value}` : ""}`;
    return [left, `${flag.help}${flag.multiple ? " [repeatable; or A,B]" : ""}`] as const;
  });
  const width = Math.max(...entries.map(([left]) => left.length));
  return entries.map(([left, help]) => `  ${left.padEnd(width)}  ${help}`).join("\n");
}

export function commandHelp(command: Command): string {
  const parts = [
    `Usage: edgesocksctl ${synopsis(command)}${command.flags ? " [FLAGS]" : ""} [--json]`,
    "",
    `${command.summary[0]!.toUpperCase()}${command.summary.slice(1)}.`,
  ];
  if (command.details) parts.push("", command.details);
  parts.push("", "Flags:", flagLines({ ...command.flags, ...COMMON_FLAGS }));
  parts.push("", GLOBAL_FLAGS);
  if (command.examples?.length) {
    parts.push("", "Examples:", ...command.examples.map((e) => `  ${e}`));
  }
  parts.push("", EXIT_CODES);
  return parts.join("\n");
}
