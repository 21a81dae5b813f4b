import { readFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, isAbsolute, resolve } from "node:path";
import { parse as parseToml } from "smol-toml";
import { z } from "zod";
import { DeployError } from "./errors";

const Name = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/, "letters, digits, . _ - (at most 63)");
const HostPort = z.string().regex(/^(?:\[[^\]]+\]|[^:\s]+):\d{1,5}$/, "expected HOST:PORT");
const AbsolutePath = z.string().refine((p) => p.startsWith("/"), "must be an absolute path");
const EnvName = z.string().regex(/^[A-Z_][A-Z0-9_]*$/, "an environment variable name");

/** Settings a region or a host may override (no defaults here: see HOST_DEFAULTS). */
const HostFields = z.object({
  /** Where releases are unpacked: `releases/<version>`, `current`, `runtimes/`, `run/`. */
  install_dir: AbsolutePath,
  /** The relay's environment file (mode 0600). */
  env_file: AbsolutePath,
  /** Cached snapshot, node token and session spool. */
  state_dir: AbsolutePath,
  /** `auto`: systemd when it runs on the host (/run/systemd/system), else the fallback supervisor. */
  service: z.enum(["auto", "systemd", "supervise"]),
  /** Unprivileged account the relay runs as (created with useradd when missing). */
  user: z.string().min(1),
  group: z.string().min(1),
  bind: z.string().min(1),
  socks_port: z.int().min(1).max(65535),
  /** The relay's health/metrics server; the deploy checks `/ready` here, from the host itself. */
  ops_bind: HostPort,
  /** A relay config file already on the host (TLS, QoS, timeouts), passed as --config. */
  config_file: AbsolutePath.optional(),
  log_level: z.enum(["trace", "debug", "info", "warn", "error", "fatal"]),
  /** Extra relay flags, appended as they are. */
  extra_args: z.array(z.string()),
  /** Extra environment for the relay process, e.g. NODE_OPTIONS. */
  env: z.record(EnvName, z.string()),
  health_timeout_secs: z.int().min(1).max(3600),
  sync_timeout_secs: z.int().min(1).max(3600),
  /** Releases kept on the host besides `current` and `previous` (rollback targets). */
  keep_releases: z.int().min(1).max(50),
});
export type HostSettings = z.infer<typeof HostFields>;

/** What a host gets for every key no level of the inventory sets. */
export const HOST_DEFAULTS: HostSettings = {
  install_dir: "/opt/edgesocks-relay",
  env_file: "/etc/edgesocks/relay.env",
  state_dir: "/var/lib/edgesocks-relay",
  service: "auto",
  user: "edgesocks",
  group: "edgesocks",
  bind: "0.0.0.0",
  socks_port: 1080,
  ops_bind: "127.0.0.1:9100",
  log_level: "info",
  extra_args: [],
  env: {},
  health_timeout_secs: 60,
  sync_timeout_secs: 60,
  keep_releases: 3,
};
const Overrides = HostFields.partial();

const Host = Overrides.extend({
  name: Name,
  /** SSH destination: `host`, `user@host`; the port comes from `ssh_port`. */
  ssh: z.string().min(1),
  ssh_port: z.int().min(1).max(65535).optional(),
  /** The SOCKS address clients use (announced to the control plane). */
  public_address: HostPort,
}).strict();

const Region = Overrides.extend({
  name: Name,
  hosts: z.array(Host).min(1),
}).strict();

const InventoryFile = z
  .object({
    control: z
      .object({
        /** HTTP base URL of the control plane API, e.g. http://control.example.net:8080 */
        url: z.url(),
        /** URL relays connect to; defaults to the API URL as ws(s)://…/trpc. */
        relay_url: z.url().optional(),
        /** Environment variable holding an admin API token (esa_…). */
        token_env: EnvName.default("EDGESOCKS_TOKEN"),
        /** Or a file holding it (read when the variable is unset). */
        token_file: z.string().optional(),
      })
      .strict(),
    ssh: z
      .object({
        user: z.string().optional(),
        port: z.int().min(1).max(65535).default(22),
        identity_file: z.string().optional(),
        /** Extra ssh/scp options, e.g. ["-o", "StrictHostKeyChecking=accept-new"]. */
        options: z.array(z.string()).default([]),
        connect_timeout_secs: z.int().min(1).max(300).default(10),
        /** Longest one remote command may run (an upload included). */
        command_timeout_secs: z.int().min(1).max(3600).default(300),
      })
      .strict()
      .default({ port: 22, options: [], connect_timeout_secs: 10, command_timeout_secs: 300 }),
    defaults: Overrides.strict().default({}),
    regions: z.array(Region).min(1),
  })
  .strict();

export interface HostPlan extends HostSettings {
  name: string;
  region: string;
  ssh: string;
  sshPort: number;
  publicAddress: string;
}

export interface Inventory {
  path: string;
  control: { url: string; relayUrl: string; token: () => string };
  ssh: {
    user: string | undefined;
    identityFile: string | undefined;
    options: string[];
    connectTimeoutSecs: number;
    commandTimeoutSecs: number;
  };
  /** Regions in file order, each with its hosts in file order. */
  regions: { name: string; hosts: HostPlan[] }[];
}

/** Reads and validates the inventory; errors name the key (`regions[1].hosts[0].ssh: …`). */
export function loadInventory(path: string, env: NodeJS.ProcessEnv = process.env): Inventory {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (cause) {
    throw new DeployError(
      "DEPLOY_E_INVENTORY",
      `${path}: cannot read (${(cause as Error).message})`,
      { cause },
    );
  }
  return parseInventory(text, path, env);
}

export function parseInventory(
  text: string,
  path: string,
  env: NodeJS.ProcessEnv = process.env,
): Inventory {
  let raw: unknown;
  try {
    raw = parseToml(text);
  } catch (cause) {
    throw new DeployError(
      "DEPLOY_E_INVENTORY",
      `${path}: not valid TOML (${(cause as Error).message})`,
      { cause },
    );
  }
  const parsed = InventoryFile.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const key = issue.path
      .map((p, i) => (typeof p === "number" ? `[${p}]` : `${i === 0 ? "" : "."}${String(p)}`))
      .join("");
    throw new DeployError(
      "DEPLOY_E_INVENTORY",
      `${path}: ${key || "(top level)"}: ${issue.message}`,
    );
  }
  const file = parsed.data;
  const baseDir = dirname(resolve(path));
  const expand = (p: string) => {
    const home = p.startsWith("~/") ? `${homedir()}${p.slice(1)}` : p;
    return isAbsolute(home) ? home : resolve(baseDir, home);
  };
  const names = new Set<string>();
  const regionNames = new Set<string>();
  const regions = file.regions.map((region, r) => {
    if (regionNames.has(region.name)) {
      throw new DeployError(
        "DEPLOY_E_INVENTORY",
        `${path}: regions[${r}].name: region "${region.name}" is listed twice`,
      );
    }
    regionNames.add(region.name);
    const { hosts, name: regionName, ...regionOverrides } = region;
    return {
      name: regionName,
      hosts: hosts.map((host, h) => {
        if (names.has(host.name)) {
          throw new DeployError(
            "DEPLOY_E_INVENTORY",
            `${path}: regions[${r}].hosts[${h}].name: host "${host.name}" is listed twice`,
          );
        }
        names.add(host.name);
        const { name, ssh, ssh_port, public_address, ...hostOverrides } = host;
        // Precedence: host, then region, then [defaults], then HOST_DEFAULTS.
        const settings = HostFields.parse({
          ...HOST_DEFAULTS,
          ...file.defaults,
          ...regionOverrides,
          ...hostOverrides,
        });
        const fill = (p: string) => p.replaceAll("{name}", name).replaceAll("{region}", regionName);
        return {
          ...settings,
          install_dir: fill(settings.install_dir),
          env_file: fill(settings.env_file),
          state_dir: fill(settings.state_dir),
          name,
          region: regionName,
          ssh,
          sshPort: ssh_port ?? file.ssh.port,
          publicAddress: public_address,
        } satisfies HostPlan;
      }),
    };
  });
  const control = file.control;
  const relayUrl = control.relay_url ?? toWsUrl(control.url);
  return {
    path,
    control: {
      url: control.url.replace(/\/+$/, ""),
      relayUrl,
      token: () => {
        const fromEnv = env[control.token_env];
        if (fromEnv) return fromEnv.trim();
        if (control.token_file) {
          try {
            return readFileSync(expand(control.token_file), "utf8").trim();
          } catch (cause) {
            throw new DeployError(
              "DEPLOY_E_INVENTORY",
              `control.token_file: cannot read ${control.token_file} (${(cause as Error).message})`,
              { cause },
            );
          }
        }
        throw new DeployError(
          "DEPLOY_E_INVENTORY",
          `no admin token: set ${control.token_env} or control.token_file in ${path}`,
        );
      },
    },
    ssh: {
      user: file.ssh.user,
      identityFile: file.ssh.identity_file ? expand(file.ssh.identity_file) : undefined,
      options: file.ssh.options,
      connectTimeoutSecs: file.ssh.connect_timeout_secs,
      commandTimeoutSecs: file.ssh.command_timeout_secs,
    },
    regions,
  };
}

function toWsUrl(httpUrl: string): string {
  const url = new URL(httpUrl);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  url.pathname = `${url.pathname.replace(/\/+$/, "")}/trpc`;
  return url.toString();
}
