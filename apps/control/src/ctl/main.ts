import { VERSION } from "../version";
import { parseCommandArgs, UsageError } from "./args";
import { baseUrl, createApi, describeError } from "./client";
import type { Command } from "./command";
import { COMMANDS } from "./commands/index";
import { readCtlEnv } from "./env";
import { commandHelp, DEFAULT_URL, globalHelp, groupHelp } from "./help";

const out = (text: string) => process.stdout.write(`${text}\n`);
const isHelp = (arg: string | undefined) => arg === "--help" || arg === "-h";

/** Takes --url/--token (anywhere, `--flag value` or `--flag=value`) out of argv. */
function globals(argv: readonly string[]): { url?: string; token?: string; rest: string[] } {
  const found: { url?: string; token?: string } = {};
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const name = /^--(url|token)(?:=(.*))?$/s.exec(arg);
    if (name === null) {
      rest.push(arg);
      continue;
    }
    const value = name[2] ?? argv[++i];
    if (value === undefined || value === "") throw new UsageError(`--${name[1]} needs a value`);
    found[name[1] as "url" | "token"] = value;
  }
  return { ...found, rest };
}

/** The command `rest` names and its own arguments, or the help text to print instead. */
function resolve(rest: readonly string[]): { command: Command; argv: string[] } | { help: string } {
  const [first, second] = rest;
  if (first === undefined || isHelp(first)) return { help: globalHelp(COMMANDS, VERSION) };
  if (first === "help") {
    const target = rest.slice(1);
    return target.length === 0
      ? { help: globalHelp(COMMANDS, VERSION) }
      : resolve([...target, "--help"]);
  }
  const pair = COMMANDS.find((c) => c.name === `${first} ${second}`);
  if (pair) return { command: pair, argv: rest.slice(2) };
  const single = COMMANDS.find((c) => c.name === first);
  if (single) return { command: single, argv: rest.slice(1) };
  const group = COMMANDS.filter((c) => c.name.startsWith(`${first} `));
  if (group.length > 0) {
    if (isHelp(second)) return { help: groupHelp(first, group) };
    const actions = group.map((c) => c.name.split(" ")[1]).join(", ");
    throw new UsageError(
      second === undefined
        ? `${first}: missing command: ${actions} (see edgesocksctl ${first} --help)`
        : `${first}: unknown command "${second}": ${actions} (see edgesocksctl ${first} --help)`,
    );
  }
  throw new UsageError(`unknown command "${first}" (see edgesocksctl --help)`);
}

async function main(argv: readonly string[]): Promise<void> {
  const env = readCtlEnv();
  const { rest, ...flags } = globals(argv);
  if (rest[0] === "--version" || rest[0] === "-V") {
    out(`edgesocksctl ${VERSION}`);
    return;
  }
  const resolved = resolve(rest);
  if ("help" in resolved) {
    out(resolved.help);
    return;
  }
  const { command } = resolved;
  const args = parseCommandArgs(resolved.argv, command.flags ?? {}, command.positionals ?? []);
  if (args.bool("help")) {
    out(commandHelp(command));
    return;
  }
  url = baseUrl(flags.url ?? env.EDGESOCKS_URL ?? DEFAULT_URL);
  const token = flags.token ?? env.EDGESOCKS_TOKEN ?? (command.offline ? "" : undefined);
  if (token === undefined)
    throw new UsageError("no API token: pass --token or set EDGESOCKS_TOKEN");
  await command.run({ api: createApi(url, token), args, json: args.bool("json"), url, out });
}

let url = DEFAULT_URL;
main(process.argv.slice(2)).catch((error: unknown) => {
  process.stderr.write(`edgesocksctl: ${describeError(error, url)}\n`);
  // exitCode, not exit(): stdout may still be draining into a pipe.
  process.exitCode = error instanceof UsageError ? 2 : 1;
});
