import { DeployError } from "./errors";
import type { HostPlan } from "./inventory";

/**
 * The relay's environment file: read by systemd (EnvironmentFile=) and by the
 * fallback supervisor (`. file`), so every value is single-quoted, which both
 * understand; values with a quote or a newline are refused.
 */
export function renderEnvFile(options: {
  host: HostPlan;
  relayUrl: string;
  nodeToken: string;
  manager: "systemd" | "supervise";
  inventoryPath: string;
}): string {
  const { host } = options;
  const entries: [string, string][] = [
    ["EDGESOCKS_CONTROL_URL", options.relayUrl],
    ["EDGESOCKS_NODE_TOKEN", options.nodeToken],
    ["EDGESOCKS_REGION", host.region],
    ["EDGESOCKS_NAME", host.name],
    ["EDGESOCKS_STATE_DIR", host.state_dir],
    ["EDGESOCKS_BIND", host.bind],
    ["EDGESOCKS_PORT", String(host.socks_port)],
    ["EDGESOCKS_OPS_BIND", host.ops_bind],
    ["EDGESOCKS_PUBLIC_ADDRESS", host.publicAddress],
    ["EDGESOCKS_LOG_LEVEL", host.log_level],
  ];
  if (host.config_file) entries.push(["EDGESOCKS_CONFIG", host.config_file]);
  // Under systemd, User=/Group= and CAP_NET_BIND_SERVICE do this; the supervisor starts as root.
  if (options.manager === "supervise") {
    entries.push(["EDGESOCKS_USER", host.user], ["EDGESOCKS_GROUP", host.group]);
  }
  if (host.extra_args.length > 0) {
    for (const arg of host.extra_args) {
      if (/\s/.test(arg)) {
        throw new DeployError(
          "DEPLOY_E_INVENTORY",
          `${host.name}: extra_args: "${arg}" contains whitespace`,
        );
      }
    }
    entries.push(["EDGESOCKS_EXTRA_ARGS", host.extra_args.join(" ")]);
  }
  for (const [key, value] of Object.entries(host.env).sort(([a], [b]) => a.localeCompare(b))) {
    entries.push([key, value]);
  }
  const lines = entries.map(([key, value]) => {
    if (/['\n\r]/.test(value)) {
      throw new DeployError(
        "DEPLOY_E_INVENTORY",
        `${host.name}: ${key}: a value may not contain ' or a newline`,
      );
    }
    return `${key}='${value}'`;
  });
  return [
    `# Written by \`npm run deploy\` from ${options.inventoryPath}; the next deploy replaces edits.`,
    ...lines,
    "",
  ].join("\n");
}

/** The token an env file on a host carries (quoted or not), if any. */
export function tokenFromEnvFile(text: string): string | undefined {
  const match = /^EDGESOCKS_NODE_TOKEN=['"]?([^'"\n]+)['"]?$/m.exec(text);
  return match?.[1];
}
