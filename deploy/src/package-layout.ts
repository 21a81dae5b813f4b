import { chmodSync, copyFileSync, cpSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import type { App } from "./release-build";

/**
 * Where a package puts things on a host (FHS): the release tree under
 * /usr/lib/<name>, commands in /usr/bin, the unit and the sysusers file under
 * /usr/lib, settings in /etc/edgesocks (kept on upgrade), state in /var/lib.
 * The .deb, the .rpm and the container image share this layout.
 */
export interface PackageSpec {
  name: "edgesocks-relay" | "edgesocks-control";
  app: App;
  summary: string;
  description: string;
  /** Settings file shipped once and never replaced by an upgrade. */
  conffile: { path: string; source: string };
  stateDir: string;
  /** Files the operator adds that purge deletes with the state. */
  secrets: string[];
  /** Shell test, in postinst, that the service has what it needs to start. */
  configured: string;
  notConfigured: string;
  /** /usr/bin commands: name → release-relative entry and node flags. */
  commands: { name: string; entry: string; nodeFlags: string }[];
  /** Repo files copied into the release dir (launchers). */
  launchers: { source: string; path: string }[];
  /** Turns the deploy script's unit into the package's. */
  unit: (deployUnit: string) => string;
}

const DEPLOY_UNITS = "deploy/systemd";

export const PACKAGES: Record<App, PackageSpec> = {
  relay: {
    name: "edgesocks-relay",
    app: "relay",
    summary: "EdgeSocks relay: SOCKS4/4a/5 data plane of an EdgeSocks fleet",
    description:
      "Terminates SOCKS4, SOCKS4a and SOCKS5 (TCP or TLS), authenticates, enforces\n" +
      "the policy snapshot of its control plane, relays TCP and UDP and records every\n" +
      "session. Bundled with the Node.js 24 runtime it needs.",
    conffile: { path: "/etc/edgesocks/relay.env", source: "deploy/package/etc/relay.env" },
    stateDir: "/var/lib/edgesocks-relay",
    secrets: ["/etc/edgesocks/relay-node-token"],
    configured:
      "grep -q '^EDGESOCKS_CONTROL_URL=..*' /etc/edgesocks/relay.env && [ -s /etc/edgesocks/relay-node-token ]",
    notConfigured:
      "fill in /etc/edgesocks/relay.env and /etc/edgesocks/relay-node-token, then systemctl restart edgesocks-relay",
    commands: [
      {
        name: "edgesocks-relay",
        entry: "apps/relay/bin/edgesocks-relay.mjs",
        nodeFlags: "--max-semi-space-size=16",
      },
    ],
    launchers: [
      { source: "deploy/bin/edgesocks-relay-launch", path: "bin/edgesocks-relay-launch" },
    ],
    unit: (text) =>
      text
        .replace(/^# EdgeSocks relay \(fleet mode\)\..*\n(#.*\n)*/, PACKAGED_HEADER)
        .replaceAll("/opt/edgesocks-relay/current/release.json", "/usr/share/doc/edgesocks-relay")
        .replaceAll("/opt/edgesocks-relay/current", "/usr/lib/edgesocks-relay")
        .replace(
          /^EnvironmentFile=.*$/m,
          "$&\n# The node token: a credential (root-only file, copied for the service at start).\n" +
            "LoadCredential=node-token:/etc/edgesocks/relay-node-token\n" +
            "Environment=EDGESOCKS_NODE_TOKEN_FILE=%d/node-token",
        ),
  },
  control: {
    name: "edgesocks-control",
    app: "control",
    summary: "EdgeSocks control plane and edgesocksctl",
    description:
      "The control plane of an EdgeSocks fleet: the tRPC API, policy snapshots pushed\n" +
      "to relays, session ingest and the admin app, on libSQL; and edgesocksctl, its\n" +
      "command line. Bundled with the Node.js 24 runtime it needs.",
    conffile: { path: "/etc/edgesocks/control.env", source: "deploy/package/etc/control.env" },
    stateDir: "/var/lib/edgesocks-control",
    secrets: [],
    configured: "true",
    notConfigured: "",
    commands: [
      { name: "edgesocks-control", entry: "apps/control/bin/edgesocks-control.mjs", nodeFlags: "" },
      { name: "edgesocksctl", entry: "apps/control/bin/edgesocksctl.mjs", nodeFlags: "" },
    ],
    launchers: [
      {
        source: "deploy/bin/edgesocks-control-launch",
        path: "deploy/bin/edgesocks-control-launch",
      },
    ],
    unit: (text) =>
      text
        .replace(/^# EdgeSocks control plane\..*\n(#.*\n)*/, PACKAGED_HEADER)
        .replaceAll("/opt/edgesocks-control", "/usr/lib/edgesocks-control")
        .replace(/^Description=.*$/m, "$&\nDocumentation=file:///usr/share/doc/edgesocks-control"),
  },
};

const PACKAGED_HEADER =
  "# Installed by the edgesocks package (.deb/.rpm); settings in /etc/edgesocks.\n" +
  "# Override with `systemctl edit`, not by editing this file. docs/deployment.md.\n";

export interface LayoutOptions {
  repoRoot: string;
  spec: PackageSpec;
  /** The app's release tree (buildReleaseTree, with its Node runtime). */
  releaseDir: string;
  /** The package's file system root to fill. */
  root: string;
  version: string;
  /** The unit, sysusers file and docs: for packages, not for the container image. */
  system: boolean;
}

/** Lays one package's files out under `root` as they will be on the host. */
export function layoutPackage(options: LayoutOptions): void {
  const { repoRoot, spec, root } = options;
  const lib = join(root, "usr", "lib", spec.name);
  cpSync(options.releaseDir, lib, { recursive: true });
  for (const launcher of spec.launchers) {
    put(join(lib, launcher.path), readFileSync(join(repoRoot, launcher.source), "utf8"), 0o755);
  }
  put(
    join(lib, "release.json"),
    `${JSON.stringify({ name: spec.name, version: options.version }, null, 2)}\n`,
    0o644,
  );
  for (const command of spec.commands) {
    const flags = command.nodeFlags ? ` ${command.nodeFlags}` : "";
    put(
      join(root, "usr", "bin", command.name),
      `#!/bin/sh\nexec /usr/lib/${spec.name}/node/bin/node${flags} /usr/lib/${spec.name}/${command.entry} "$@"\n`,
      0o755,
    );
  }
  const conffile = join(root, spec.conffile.path);
  mkdirSync(dirname(conffile), { recursive: true });
  copyFileSync(join(repoRoot, spec.conffile.source), conffile);
  chmodSync(conffile, 0o644);
  if (!options.system) return;
  const unit = readFileSync(join(repoRoot, DEPLOY_UNITS, `${spec.name}.service`), "utf8");
  put(
    join(root, "usr", "lib", "systemd", "system", `${spec.name}.service`),
    spec.unit(unit),
    0o644,
  );
  put(
    join(root, "usr", "lib", "sysusers.d", `${spec.name}.conf`),
    readFileSync(join(repoRoot, DEPLOY_UNITS, "edgesocks.sysusers.conf"), "utf8"),
    0o644,
  );
}

export function put(path: string, content: string | Buffer, mode: number): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, content);
  chmodSync(path, mode);
}
