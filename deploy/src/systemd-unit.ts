import type { HostSettings } from "./inventory";

/** The paths and account the shipped unit file is written for. */
export const UNIT_DEFAULTS = {
  installDir: "/opt/edgesocks-relay",
  envFile: "/etc/edgesocks/relay.env",
  stateDir: "/var/lib/edgesocks-relay",
  user: "edgesocks",
  group: "edgesocks",
} as const;

/**
 * The relay unit for one host: the shipped template with the inventory's
 * paths and account. systemd's StateDirectory= only works below /var/lib, so a
 * state dir elsewhere becomes ReadWritePaths= (the deploy creates it).
 */
export function renderRelayUnit(
  template: string,
  host: Pick<HostSettings, "install_dir" | "env_file" | "state_dir" | "user" | "group">,
): string {
  let unit = template
    .replaceAll(UNIT_DEFAULTS.installDir, host.install_dir)
    .replaceAll(UNIT_DEFAULTS.envFile, host.env_file)
    .replace(/^User=.*$/m, `User=${host.user}`)
    .replace(/^Group=.*$/m, `Group=${host.group}`)
    .replace(
      /^Environment=EDGESOCKS_STATE_DIR=.*$/m,
      `Environment=EDGESOCKS_STATE_DIR=${host.state_dir}`,
    )
    .replace(/^WorkingDirectory=.*$/m, `WorkingDirectory=${host.state_dir}`);
  const underVarLib = /^\/var\/lib\/([^/]+(?:\/[^/]+)*)$/.exec(host.state_dir);
  unit = underVarLib
    ? unit.replace(/^StateDirectory=.*$/m, `StateDirectory=${underVarLib[1]}`)
    : unit.replace(/^StateDirectory=.*$/m, `ReadWritePaths=${host.state_dir}`);
  return unit;
}
