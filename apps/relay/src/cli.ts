import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { splitHostPort } from "@edgesocks/socks/address";
import { z } from "zod";
import { RelayError } from "./errors";

export const HELP = `edgesocks-relay — the EdgeSocks SOCKS4/4a/5 relay

Usage:
  edgesocks-relay --config relay.toml [overrides]     standalone, policy from local files
  edgesocks-relay --control-url ws://HOST:PORT/trpc --node-token-file FILE \\
                  --region REGION --name NAME --state-dir DIR [overrides]
                                                      fleet mode, policy from the control plane
  edgesocks-relay --generate-config relay.toml        write a commented example config and exit

Options:
  -c, --config FILE         relay TOML file (RustSocks' rustsocks.toml layout is accepted)
      --generate-config FILE  write a commented example configuration to FILE and exit
      --control-url URL     control plane WebSocket URL (fleet mode)
      --node-token-file FILE  file holding the node token (or a one-time enrollment token);
                            without it, the EDGESOCKS_NODE_TOKEN environment variable
      --node-token TOKEN    the token itself: visible to every local user in ps, prefer the above
      --region REGION       region this relay serves, e.g. eu-west
      --name NAME           node name, unique in the fleet
      --state-dir DIR       where the cached snapshot, the session spool, open-session
                            checkpoints and quarantined records live
      --public-address HOST:PORT  SOCKS address clients use to reach this relay
      --bind ADDR           listen address (overrides server.bind_address)
      --port N              listen port (overrides server.bind_port)
      --ops-bind ADDR:PORT  health and metrics HTTP server (overrides ops.bind)
      --workers N|auto      threads serving SOCKS on the same port, auto: one per core
                            (overrides server.workers; limits and QoS hold across them)
      --log-level LEVEL     trace | debug | info | warn | error | fatal | silent
      --log-format FORMAT   pretty | json
      --user USER           started as root: switch to USER after binding the listeners
      --group GROUP         ... and to GROUP (default: a group named like USER)
      --allow-root          keep running as root when no --user is given (warned; not advised)
  -h, --help                show this help and exit
  -v, --version             print the version and exit

Signals:
  SIGHUP                    reload the configuration and ACL files (validated first;
                            an invalid file is rejected and the old policy stays)
  SIGINT, SIGTERM           stop accepting, drain sessions up to server.shutdown_grace_ms, exit

Exit codes: 0 normal exit, 1 runtime failure, 2 bad flags or configuration, an unknown
key included (nothing started). Flags are validated as the keys they override.
Docs: docs/relay.md (configuration), docs/operations.md (monitoring).`;

const LogLevel = z.enum(["trace", "debug", "info", "warn", "error", "fatal", "silent"]);

export interface CliOptions {
  mode: "help" | "version" | "generate" | "standalone" | "fleet";
  config?: string;
  generateConfig?: string;
  controlUrl?: string;
  nodeToken?: string;
  region?: string;
  name?: string;
  stateDir?: string;
  publicAddress?: string;
  bind?: string;
  port?: number;
  opsBind?: string;
  workers?: number | "auto";
  logLevel?: z.infer<typeof LogLevel>;
  logFormat?: "pretty" | "json";
  /** Switch to this user (name or uid) after binding; needs root. */
  user?: string;
  /** Switch to this group (name or gid) after binding. */
  group?: string;
  /** Keep running as root when no `user` is given. */
  allowRoot?: boolean;
}

/** Parses argv (and the node token from the environment); throws RELAY_E_CLI with one line. */
export function parseCli(argv: string[], env: { EDGESOCKS_NODE_TOKEN?: string } = {}): CliOptions {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        config: { type: "string", short: "c" },
        "generate-config": { type: "string" },
        "control-url": { type: "string" },
        "node-token": { type: "string" },
        "node-token-file": { type: "string" },
        region: { type: "string" },
        name: { type: "string" },
        "state-dir": { type: "string" },
        "public-address": { type: "string" },
        bind: { type: "string" },
        port: { type: "string" },
        "ops-bind": { type: "string" },
        workers: { type: "string" },
        "log-level": { type: "string" },
        "log-format": { type: "string" },
        user: { type: "string" },
        group: { type: "string" },
        "allow-root": { type: "boolean" },
        help: { type: "boolean", short: "h" },
        version: { type: "boolean", short: "v" },
      },
    }));
  } catch (cause) {
    throw new RelayError("RELAY_E_CLI", `${(cause as Error).message} (see --help)`, { cause });
  }
  const str = (key: string) => values[key] as string | undefined;
  if (values.help) return { mode: "help" };
  if (values.version) return { mode: "version" };
  const generateConfig = str("generate-config");
  if (generateConfig !== undefined) return { mode: "generate", generateConfig };

  const options: CliOptions = { mode: "standalone" };
  const config = str("config");
  const controlUrl = str("control-url");
  if (config !== undefined) options.config = config;
  if (controlUrl !== undefined) {
    options.mode = "fleet";
    options.controlUrl = parseUrl(controlUrl);
    options.nodeToken = nodeToken(str("node-token"), str("node-token-file"), env);
    for (const key of ["region", "name", "state-dir"] as const) {
      if (!str(key)) throw new RelayError("RELAY_E_CLI", `--${key} is required with --control-url`);
    }
    options.region = str("region")!;
    options.name = str("name")!;
    options.stateDir = str("state-dir")!;
  } else if (config === undefined) {
    throw new RelayError(
      "RELAY_E_CLI",
      "either --config FILE (standalone) or --control-url URL (fleet) is required (see --help)",
    );
  } else if (str("state-dir") !== undefined) {
    options.stateDir = str("state-dir")!;
  }
  const publicAddress = str("public-address");
  if (publicAddress !== undefined)
    options.publicAddress = hostPortFlag("--public-address", publicAddress);
  const bind = str("bind");
  if (bind !== undefined) options.bind = bind;
  const port = str("port");
  if (port !== undefined) options.port = parsePort("--port", port);
  const opsBind = str("ops-bind");
  // Checked with the config schema, as the key it overrides (ops.bind).
  if (opsBind !== undefined) options.opsBind = opsBind;
  const workers = str("workers");
  if (workers !== undefined) {
    const n = Number(workers);
    if (workers !== "auto" && !(/^\d+$/.test(workers) && n >= 1 && n <= 64)) {
      throw new RelayError("RELAY_E_CLI", `--workers: expected 1-64 or auto, got "${workers}"`);
    }
    options.workers = workers === "auto" ? "auto" : n;
  }
  const level = str("log-level");
  if (level !== undefined) {
    const parsed = LogLevel.safeParse(level);
    if (!parsed.success) {
      throw new RelayError(
        "RELAY_E_CLI",
        `--log-level: expected one of ${LogLevel.options.join(", ")}, got "${level}"`,
      );
    }
    options.logLevel = parsed.data;
  }
  const format = str("log-format");
  if (format !== undefined) {
    if (format !== "pretty" && format !== "json") {
      throw new RelayError("RELAY_E_CLI", `--log-format: expected pretty or json, got "${format}"`);
    }
    options.logFormat = format;
  }
  const user = str("user");
  if (user !== undefined) options.user = user;
  const group = str("group");
  if (group !== undefined) options.group = group;
  if (values["allow-root"]) options.allowRoot = true;
  return options;
}

/** One token source: --node-token-file, --node-token, or EDGESOCKS_NODE_TOKEN, in that order. */
function nodeToken(
  flag: string | undefined,
  file: string | undefined,
  env: { EDGESOCKS_NODE_TOKEN?: string },
): string {
  if (flag !== undefined && file !== undefined) {
    throw new RelayError("RELAY_E_CLI", "--node-token and --node-token-file: give only one");
  }
  if (file !== undefined) {
    let text: string;
    try {
      text = readFileSync(file, "utf8").trim();
    } catch (cause) {
      throw new RelayError(
        "RELAY_E_CLI",
        `--node-token-file: cannot read ${file}: ${String(cause)}`,
        {
          cause,
        },
      );
    }
    if (!/^\S+$/.test(text)) {
      throw new RelayError(
        "RELAY_E_CLI",
        `--node-token-file: ${file} must hold one token on one line (it is ${text === "" ? "empty" : "several words"})`,
      );
    }
    return text;
  }
  const token = flag ?? env.EDGESOCKS_NODE_TOKEN;
  if (!token) {
    throw new RelayError(
      "RELAY_E_CLI",
      "a node token is required with --control-url: --node-token-file FILE or EDGESOCKS_NODE_TOKEN (or --node-token, visible in ps)",
    );
  }
  return token;
}

function parsePort(flag: string, text: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || n > 65535) {
    throw new RelayError("RELAY_E_CLI", `${flag}: expected a port 0-65535, got "${text}"`);
  }
  return n;
}

/** Validates `host:port` (IPv6 as `[::1]:9100`) and returns it unchanged. */
export function hostPortFlag(flag: string, text: string): string {
  const split = splitHostPort(text);
  if (!split) throw new RelayError("RELAY_E_CLI", `${flag}: expected HOST:PORT, got "${text}"`);
  parsePort(flag, String(split.port));
  return text;
}

function parseUrl(text: string): string {
  try {
    const url = new URL(text);
    if (!["ws:", "wss:", "http:", "https:"].includes(url.protocol)) throw new Error("scheme");
    return text;
  } catch (cause) {
    throw new RelayError(
      "RELAY_E_CLI",
      `--control-url: expected ws://HOST:PORT/trpc, got "${text}"`,
      {
        cause,
      },
    );
  }
}
