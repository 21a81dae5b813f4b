import type { AppRouter } from "@edgesocks/api";
import { createTRPCClient, httpLink, TRPCClientError } from "@trpc/client";
import { CtlError, parse } from "./args";
import { COMMANDS } from "./commands";

const HELP = `edgesocksctl — manage an EdgeSocks fleet through the control plane API

Usage:
  edgesocksctl [--url URL] [--token TOKEN] COMMAND [ARGS] [--json]

Global options:
  --url URL        control plane base URL (env EDGESOCKS_URL, default http://127.0.0.1:8080)
  --token TOKEN    admin or viewer API token (env EDGESOCKS_TOKEN)
  --json           machine-readable output (every read command)
  -h, --help       this help; COMMAND --help shows one command

Commands:
${Object.values(COMMANDS)
  .map((c) => `  ${c.usage}`)
  .join("\n")}

Errors are one line on stderr and exit code 1.`;

/** Reads EDGESOCKS_URL / EDGESOCKS_TOKEN: the only environment the CLI uses. */
function env() {
  return { url: process.env.EDGESOCKS_URL, token: process.env.EDGESOCKS_TOKEN };
}

async function main(argv: string[]): Promise<void> {
  // Global flags may come before the command.
  let url = env().url ?? "http://127.0.0.1:8080";
  let token = env().token;
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--url" || arg === "--token") {
      const value = argv[++i];
      if (value === undefined) throw new CtlError(`${arg} needs a value`);
      if (arg === "--url") url = value;
      else token = value;
    } else if (arg.startsWith("--url=")) url = arg.slice(6);
    else if (arg.startsWith("--token=")) token = arg.slice(8);
    else rest.push(arg);
  }
  const [group, action] = rest;
  if (group === undefined || group === "--help" || group === "-h" || group === "help") {
    process.stdout.write(`${HELP}\n`);
    return;
  }
  const key = COMMANDS[group] ? group : `${group} ${action ?? ""}`.trim();
  const command = COMMANDS[key];
  if (!command) throw new CtlError(`unknown command "${key}" (see edgesocksctl --help)`);
  const args = rest.slice(key.split(" ").length);
  const parsed = parse(args, command.options ?? {});
  if (parsed.flags.help) {
    process.stdout.write(`edgesocksctl ${command.usage}\n`);
    return;
  }
  if (!token) throw new CtlError("no API token: pass --token or set EDGESOCKS_TOKEN");
  const api = createTRPCClient<AppRouter>({
    links: [
      httpLink({
        url: `${url.replace(/\/$/, "")}/trpc`,
        headers: () => ({ authorization: `Bearer ${token}` }),
      }),
    ],
  });
  await command.run(api, parsed, parsed.flags.json === true);
}

main(process.argv.slice(2)).catch((error: unknown) => {
  let message: string;
  if (error instanceof CtlError) message = error.message;
  else if (error instanceof TRPCClientError) message = error.message;
  else if ((error as { cause?: { code?: string } }).cause?.code === "ECONNREFUSED")
    message = "cannot reach the control plane (connection refused)";
  else message = (error as Error).message ?? String(error);
  process.stderr.write(`edgesocksctl: ${message.split("\n")[0]}\n`);
  process.exit(1);
});
