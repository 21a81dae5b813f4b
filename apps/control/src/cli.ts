import { parseArgs } from "node:util";
import { ENV_HELP } from "./env";
import { ControlError } from "./errors";

export interface CliOptions {
  command: "serve" | "migrate" | "help" | "version";
  host?: string;
  port?: number;
  databaseUrl?: string;
}

export const HELP = `edgesocks-control: the EdgeSocks control plane (tRPC over HTTP and WebSocket on one port)

Usage:
  edgesocks-control [serve] [--host ADDR] [--port N] [--database-url URL]
  edgesocks-control migrate [--database-url URL]
  edgesocks-control --help | --version

Commands:
  serve     (default) apply pending migrations, then serve the API, the relay protocol,
            /health, /ready, /metrics and the admin app. On an empty database: creates the
            first admin token (printed once, written to EDGESOCKS_ADMIN_TOKEN_FILE), a default
            policy (auth none, default allow, user anonymous) and publishes snapshot version 1.
  migrate   apply pending migrations and exit (run it once before starting several instances
            on one database, with EDGESOCKS_MIGRATE_ON_START=false on the instances)

Options (override the environment):
  --host ADDR           listen address (HOST)
  --port N              listen port, 0 for any free port (PORT)
  --database-url URL    libSQL URL (DATABASE_URL)
  -h, --help            show this help
  -v, --version         print the version

Environment:
${ENV_HELP.map(([name, text]) => `  ${name.padEnd(42)} ${text}`).join("\n")}

Signals: SIGINT/SIGTERM shut down gracefully (a second one exits at once).
Exit codes: 0 ok, 1 runtime failure, 2 bad flags or environment (nothing started).`;

export function parseCli(argv: string[]): CliOptions {
  let parsed: ReturnType<typeof parseArgs<{ options: typeof spec; allowPositionals: true }>>;
  const spec = {
    host: { type: "string" },
    port: { type: "string" },
    "database-url": { type: "string" },
    help: { type: "boolean", short: "h" },
    version: { type: "boolean", short: "v" },
  } as const;
  try {
    parsed = parseArgs({ args: argv, options: spec, allowPositionals: true, strict: true });
  } catch (cause) {
    throw new ControlError("CONTROL_E_CLI", `${(cause as Error).message} (see --help)`, { cause });
  }
  const { values, positionals } = parsed;
  if (values.help) return { command: "help" };
  if (values.version) return { command: "version" };
  if (positionals.length > 1) {
    throw new ControlError("CONTROL_E_CLI", `unexpected argument "${positionals[1]}" (see --help)`);
  }
  const command = positionals[0] ?? "serve";
  if (command !== "serve" && command !== "migrate") {
    throw new ControlError(
      "CONTROL_E_CLI",
      `unknown command "${command}": use serve or migrate (see --help)`,
    );
  }
  const options: CliOptions = { command };
  if (values.host !== undefined) options.host = values.host;
  if (values["database-url"] !== undefined) options.databaseUrl = values["database-url"];
  if (values.port !== undefined) {
    const port = Number(values.port);
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      throw new ControlError("CONTROL_E_CLI", `--port: "${values.port}" is not a port (0-65535)`);
    }
    options.port = port;
  }
  return options;
}
