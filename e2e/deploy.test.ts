import { type ChildProcess, execFile, execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readlinkSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { basename, join, resolve } from "node:path";
import { createRegistry } from "@edgesocks/telemetry";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { renderEnvFile } from "../deploy/src/env-file";
import { parseInventory } from "../deploy/src/inventory";
import { buildReleaseTree } from "../deploy/src/release-build";
import { renderRelayUnit } from "../deploy/src/systemd-unit";
import { createSshFleet, fleetUnavailable, type SshFleet } from "./support/ssh-fleet";

/**
 * The deploy script for real: three "regions" are network namespaces with
 * their own sshd, the control plane runs in the root namespace, and
 * `deploy/src/main.ts` (what `npm run deploy` runs) builds, uploads, enrolls,
 * starts under the fallback supervisor (no systemd here), health-checks,
 * upgrades and rolls back. The systemd path itself is checked statically
 * (systemd-analyze verify) further down.
 */

const ROOT = resolve(import.meta.dirname, "..");
const DEPLOY = join(ROOT, "deploy", "src", "main.ts");
const CONTROL_BIN = join(ROOT, "apps", "control", "bin", "edgesocks-control.mjs");
const REGIONS = ["eu-west", "us-east", "ap-south"];
const ADMIN_TOKEN = `esa_${randomBytes(24).toString("base64url")}`;
/** Bundles are cached between runs here; a fresh CI clone builds once (~10 s). */
const CACHE_DIR = join(ROOT, "node_modules", ".cache", "edgesocks-deploy");

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(
  file: string,
  args: string[],
  options: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
) {
  return new Promise<Run>((done) => {
    execFile(
      file,
      args,
      {
        env: options.env ?? process.env,
        timeout: options.timeoutMs ?? 60_000,
        maxBuffer: 16 << 20,
        cwd: ROOT,
      },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === "number" ? error.code : null) : 0;
        done({ code, stdout, stderr });
      },
    );
  });
}

const unavailable =
  fleetUnavailable() ?? (existsSync(CONTROL_BIN) ? undefined : `${CONTROL_BIN} missing`);
if (unavailable) {
  // Say so in the test output rather than pass silently.
  console.warn(`e2e/deploy.test.ts: namespace fleet skipped: ${unavailable}`);
}

describe.skipIf(unavailable !== undefined)(
  "deploy: a three-region fleet in network namespaces",
  () => {
    let dir: string;
    let fleet: SshFleet;
    let control: ChildProcess | undefined;
    let controlUrl: string;
    let target: Server;
    let targetUrl: string;
    let prometheus: ChildProcess | undefined;
    let v1: string;
    let v2Bundle: string;

    const hostDir = (name: string) => join(dir, "hosts", name);
    const installDir = (name: string) => join(hostDir(name), "opt");
    const current = (name: string) => basename(readlinkSync(join(installDir(name), "current")));
    const relayPid = (name: string) =>
      Number(readFileSync(join(installDir(name), "run", "relay.pid"), "utf8"));

    function inventory(file: string, healthTimeoutSecs = 20): string {
      const path = join(dir, file);
      const hosts = fleet.hosts
        .map(
          (h) => `
[[regions]]
name = "${h.region}"
[[regions.hosts]]
name = "${h.name}"
ssh = "${h.address}"
public_address = "${h.address}:1080"
`,
        )
        .join("");
      writeFileSync(
        path,
        `[control]
url = "${controlUrl}"
token_env = "E2E_ADMIN_TOKEN"

[ssh]
user = "root"
identity_file = "${fleet.identityFile}"
options = ["-o", "UserKnownHostsFile=${fleet.knownHostsFile}", "-o", "StrictHostKeyChecking=yes", "-o", "LogLevel=ERROR"]
connect_timeout_secs = 5
command_timeout_secs = 60

[defaults]
install_dir = "${dir}/hosts/{name}/opt"
env_file = "${dir}/hosts/{name}/relay.env"
state_dir = "${dir}/hosts/{name}/state"
service = "supervise"
user = "nobody"
group = "nogroup"
ops_bind = "0.0.0.0:9100"
health_timeout_secs = ${healthTimeoutSecs}
sync_timeout_secs = 20
${hosts}`,
      );
      return path;
    }

    const deploy = (args: string[]) =>
      run(process.execPath, ["--import", "tsx", DEPLOY, "--cache-dir", CACHE_DIR, ...args], {
        env: { ...process.env, E2E_ADMIN_TOKEN: ADMIN_TOKEN },
        timeoutMs: 150_000,
      });

    async function nodes(): Promise<{ name: string; configStatus: string; enrolled: boolean }[]> {
      const response = await fetch(`${controlUrl}/trpc/nodes.list`, {
        headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
        signal: AbortSignal.timeout(5_000),
      });
      return ((await response.json()) as { result: { data: [] } }).result.data;
    }

    /** curl through a relay, optionally from inside another host's namespace. */
    const curlVia = (relayAddress: string, from?: SshFleet["hosts"][number]) => {
      const argv = [
        "curl",
        "-sS",
        "--max-time",
        "10",
        "--socks5",
        `${relayAddress}:1080`,
        targetUrl,
      ];
      const [file, ...args] = from ? fleet.inNamespace(from, argv) : argv;
      return run(file!, args, { timeoutMs: 15_000 });
    };

    /** A copy of a release bundle with a new version and an edit (upgrade or deliberate breakage). */
    async function variant(
      fromTarball: string,
      version: string,
      edit: (root: string) => void,
    ): Promise<string> {
      const work = join(dir, `variant-${version}`);
      rmSync(work, { recursive: true, force: true });
      mkdirSync(work, { recursive: true });
      execFileSync("tar", ["-xzf", fromTarball, "-C", work]);
      const manifest = JSON.parse(readFileSync(join(work, "release.json"), "utf8"));
      writeFileSync(
        join(work, "release.json"),
        `${JSON.stringify({ ...manifest, version }, null, 2)}\n`,
      );
      edit(work);
      const tarball = join(dir, `edgesocks-relay-${version}.tar.gz`);
      execFileSync("tar", ["-czf", tarball, "-C", work, "."]);
      return tarball;
    }

    const systemPathsBefore = new Map(
      ["/opt/edgesocks-relay", "/etc/edgesocks/relay.env"].map((p) => [p, existsSync(p)]),
    );

    beforeAll(async () => {
      dir = mkdtempSync("/tmp/esd-e2e-");
      // The relays drop to nobody and still read their release and state under here.
      chmodSync(dir, 0o755);
      fleet = await createSshFleet({ dir, regions: REGIONS });

      target = createServer((_req, res) => res.end("hello from the target\n"));
      await new Promise<void>((r) => target.listen(0, fleet.gateway, r));
      targetUrl = `http://${fleet.gateway}:${(target.address() as AddressInfo).port}/`;

      const port = 20_000 + (process.pid % 10_000);
      controlUrl = `http://${fleet.gateway}:${port}`;
      control = spawn(process.execPath, [CONTROL_BIN], {
        env: {
          ...process.env,
          DATABASE_URL: `file:${join(dir, "control.db")}`,
          HOST: fleet.gateway,
          PORT: String(port),
          EDGESOCKS_ADMIN_TOKEN: ADMIN_TOKEN,
          EDGESOCKS_ADMIN_TOKEN_FILE: join(dir, "admin-token"),
          EDGESOCKS_LOG_FORMAT: "json",
          EDGESOCKS_LOG_LEVEL: "warn",
        },
        stdio: ["ignore", "ignore", "inherit"],
      });
      const deadline = Date.now() + 30_000;
      for (;;) {
        try {
          if ((await fetch(`${controlUrl}/ready`, { signal: AbortSignal.timeout(1_000) })).ok)
            break;
        } catch {
          // Not up yet.
        }
        if (Date.now() > deadline) throw new Error("control plane not ready after 30 s");
        await new Promise((r) => setTimeout(r, 200));
      }
    }, 60_000);

    afterAll(async () => {
      prometheus?.kill("SIGKILL");
      control?.kill("SIGKILL");
      await new Promise((r) => (target ? target.close(r) : r(undefined)));
      fleet?.teardown();
      if (dir) rmSync(dir, { recursive: true, force: true });
    }, 30_000);

    it("--dry-run prints the plan and changes nothing", async () => {
      const result = await deploy(["--inventory", inventory("inventory.toml"), "--dry-run"]);
      expect(result.stderr).toBe("");
      expect(result.code).toBe(0);
      for (const host of fleet.hosts) {
        expect(result.stdout).toMatch(
          new RegExp(`\\[${host.region}/${host.name}\\] plan \\(supervise\\): upload runtime`),
        );
        expect(existsSync(hostDir(host.name))).toBe(false);
      }
      expect(result.stdout).toContain(
        "plan: eu-west (relay-eu-west) → us-east (relay-us-east) → ap-south",
      );
      expect(result.stdout).toContain("DRY RUN: nothing was changed.");
      v1 = / release (\S+) \(runtime /.exec(result.stdout)![1]!;
    }, 120_000);

    it("deploys region by region: relays enroll, sync and serve SOCKS across namespaces", async () => {
      const result = await deploy(["--inventory", inventory("inventory.toml")]);
      expect(result.stdout).toContain("ROLLOUT COMPLETE.");
      expect(result.code).toBe(0);
      // One host at a time, regions in file order.
      const order = REGIONS.map((r) => result.stdout.indexOf(`[${r}/relay-${r}] deployed:`));
      expect(order.every((i) => i > 0)).toBe(true);
      expect([...order].sort((a, b) => a - b)).toEqual(order);

      // Everything went where the inventory said, nothing to the defaults on this machine.
      for (const path of ["/opt/edgesocks-relay", "/etc/edgesocks/relay.env"]) {
        expect({ path, exists: existsSync(path) }).toEqual({
          path,
          exists: systemPathsBefore.get(path),
        });
      }
      const listed = await nodes();
      for (const host of fleet.hosts) {
        expect(current(host.name)).toBe(v1);
        expect(listed.find((n) => n.name === host.name)).toMatchObject({
          enrolled: true,
          configStatus: "SYNCED",
        });
        // Started as root by the supervisor, running as nobody:nogroup after binding.
        const status = readFileSync(`/proc/${relayPid(host.name)}/status`, "utf8");
        expect(status).toMatch(/^Uid:\s+65534\s+65534\s+65534\s+65534$/m);
        expect(status).toMatch(/^Gid:\s+65534\s+65534\s+65534\s+65534$/m);
        // The env file is the operator's secret: root only.
        expect(
          execFileSync("stat", ["-c", "%a", join(hostDir(host.name), "relay.env")])
            .toString()
            .trim(),
        ).toBe("600");
        const direct = await curlVia(host.address);
        expect(direct.stdout).toBe("hello from the target\n");
      }
      // From region A's host through region B's relay, and so on around.
      for (const [i, from] of fleet.hosts.entries()) {
        const via = fleet.hosts[(i + 1) % fleet.hosts.length]!;
        const crossed = await curlVia(via.address, from);
        expect({ from: from.name, via: via.name, out: crossed.stdout }).toEqual({
          from: from.name,
          via: via.name,
          out: "hello from the target\n",
        });
      }
    }, 150_000);

    it("a real Prometheus scrapes the relays and the control plane, and loads the alert rules", async () => {
      if (!existsSync("/usr/bin/prometheus")) {
        console.warn("prometheus not installed (apt-get install prometheus): scrape check skipped");
        return;
      }
      const promDir = join(dir, "prometheus");
      mkdirSync(promDir, { recursive: true });
      const targets = fleet.hosts.map(
        (h) =>
          `      - targets: ["${h.address}:9100"]\n        labels: { region: "${h.region}", node: "${h.name}" }`,
      );
      writeFileSync(
        join(promDir, "prometheus.yml"),
        `global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files:
  - ${join(ROOT, "deploy", "prometheus", "alerts.yml")}
scrape_configs:
  - job_name: edgesocks-relay
    static_configs:
${targets.join("\n")}
  - job_name: edgesocks-control
    static_configs:
      - targets: ["${new URL(controlUrl).host}"]
`,
      );
      // Below the ephemeral range, so no outgoing connection of another suite holds it.
      const port = await unusedPortBelowEphemeral();
      prometheus = spawn(
        "/usr/bin/prometheus",
        [
          `--config.file=${join(promDir, "prometheus.yml")}`,
          `--storage.tsdb.path=${join(promDir, "data")}`,
          `--web.listen-address=127.0.0.1:${port}`,
          "--log.level=error",
        ],
        { stdio: ["ignore", "ignore", "inherit"] },
      );
      const api = async (path: string) => {
        const response = await fetch(`http://127.0.0.1:${port}${path}`, {
          signal: AbortSignal.timeout(2_000),
        });
        return (await response.json()) as {
          data: { result?: unknown[]; groups?: { rules: { health: string }[] }[] };
        };
      };
      const query = (q: string) => api(`/api/v1/query?query=${encodeURIComponent(q)}`);
      const deadline = Date.now() + 30_000;
      let relays = 0;
      let controls = 0;
      while (Date.now() < deadline && (relays < 3 || controls < 1)) {
        await new Promise((r) => setTimeout(r, 500));
        try {
          relays =
            (await query('edgesocks_relay_policy_version{job="edgesocks-relay"} > 0')).data.result
              ?.length ?? 0;
          controls =
            (await query('edgesocks_control_connected_nodes{job="edgesocks-control"} >= 3')).data
              .result?.length ?? 0;
        } catch {
          // Prometheus still starting.
        }
      }
      expect({ relays, controls }).toEqual({ relays: 3, controls: 1 });
      for (const series of [
        "edgesocks_relay_connections_total",
        "edgesocks_relay_session_duration_seconds_bucket",
        "edgesocks_relay_spool_backlog_bytes",
        "edgesocks_process_resident_memory_bytes",
        "edgesocks_control_api_request_duration_seconds_count",
        "edgesocks_control_node_config_status",
        "edgesocks_control_snapshot_version",
      ]) {
        expect({ series, found: ((await query(series)).data.result?.length ?? 0) > 0 }).toEqual({
          series,
          found: true,
        });
      }
      const rules = (await api("/api/v1/rules")).data.groups!.flatMap((g) => g.rules);
      expect(rules.length).toBeGreaterThanOrEqual(8);
      expect(rules.filter((r) => r.health === "err")).toEqual([]);
      // No alert fires on a healthy fleet.
      const firing = await query('ALERTS{alertstate="firing", severity="page"}');
      expect(firing.data.result).toEqual([]);
    }, 60_000);

    it("re-running with nothing changed changes nothing", async () => {
      const pids = fleet.hosts.map((h) => relayPid(h.name));
      const result = await deploy(["--inventory", inventory("inventory.toml")]);
      expect(result.code).toBe(0);
      for (const host of fleet.hosts) {
        expect(result.stdout).toContain(`[${host.region}/${host.name}] unchanged:`);
      }
      expect(result.stdout).not.toContain("uploading");
      expect(fleet.hosts.map((h) => relayPid(h.name))).toEqual(pids);
    }, 120_000);

    it("upgrades every host, keeping the previous release beside it", async () => {
      const v2 = `${v1}.e2e2`;
      const bundle = await variant(join(CACHE_DIR, `edgesocks-relay-${v1}.tar.gz`), v2, (root) => {
        writeFileSync(join(root, "upgrade-marker.txt"), "2\n");
      });
      v2Bundle = bundle;
      const pids = fleet.hosts.map((h) => relayPid(h.name));
      const result = await deploy(["--inventory", inventory("inventory.toml"), "--bundle", bundle]);
      expect(result.stdout).toContain("ROLLOUT COMPLETE.");
      expect(result.code).toBe(0);
      // The runtime was already there: only the release went over the wire.
      expect(result.stdout).not.toContain("uploading runtime");
      for (const [i, host] of fleet.hosts.entries()) {
        expect(current(host.name)).toBe(v2);
        expect(basename(readlinkSync(join(installDir(host.name), "previous")))).toBe(v1);
        expect(relayPid(host.name)).not.toBe(pids[i]);
        expect((await curlVia(host.address)).stdout).toBe("hello from the target\n");
      }
    }, 150_000);

    it("rolls a broken release back on the first host and stops the rollout", async () => {
      const v2 = `${v1}.e2e2`;
      const v3 = `${v1}.e2e3-broken`;
      const bundle = await variant(v2Bundle, v3, (root) => {
        // Starts, never binds: the supervisor keeps restarting it and /ready never answers.
        writeFileSync(
          join(root, "apps", "relay", "bin", "edgesocks-relay.mjs"),
          'throw new Error("deliberately broken release");\n',
        );
      });
      const pids = fleet.hosts.map((h) => relayPid(h.name));
      const result = await deploy([
        "--inventory",
        inventory("inventory-fast.toml", 6),
        "--bundle",
        bundle,
      ]);
      expect(result.code).toBe(1);
      const first = fleet.hosts[0]!;
      expect(result.stdout).toContain(
        `ROLLOUT STOPPED at ${first.region}/${first.name}: rolled-back.`,
      );
      expect(result.stdout).toContain("deliberately broken release");
      expect(result.stdout).toMatch(new RegExp(`${first.name}\\s+rolled-back`));
      for (const later of fleet.hosts.slice(1)) {
        expect(result.stdout).toMatch(new RegExp(`${later.name}\\s+skipped`));
      }
      expect(current(first.name)).toBe(v2);
      expect((await curlVia(first.address)).stdout).toBe("hello from the target\n");
      // The other regions were not touched.
      for (const [i, host] of fleet.hosts.entries()) {
        if (i === 0) continue;
        expect(current(host.name)).toBe(v2);
        expect(relayPid(host.name)).toBe(pids[i]);
      }
      expect((await nodes()).every((n) => n.configStatus === "SYNCED")).toBe(true);
    }, 150_000);
  },
);

/** What can be checked without a fleet: unit files, alert rules, dashboard, inventory, bundle contents. */
describe("deploy artifacts", () => {
  const has = (bin: string) => existsSync(bin);
  const tmp = mkdtempSync("/tmp/esd-artifacts-");
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  it("the systemd units pass systemd-analyze verify, as shipped and as the deploy renders them", async () => {
    if (!has("/usr/bin/systemd-analyze")) {
      console.warn("systemd-analyze missing (apt-get install systemd): unit check skipped");
      return;
    }
    // verify insists that ExecStart exists: point the units at real copies of the launchers.
    const relayTemplate = readFileSync(
      join(ROOT, "deploy", "systemd", "edgesocks-relay.service"),
      "utf8",
    );
    const installDir = join(tmp, "opt", "edgesocks-relay");
    mkdirSync(join(installDir, "current", "bin"), { recursive: true });
    execFileSync("cp", [
      join(ROOT, "deploy", "bin", "edgesocks-relay-launch"),
      join(installDir, "current", "bin"),
    ]);
    const controlDir = join(tmp, "opt", "edgesocks-control");
    mkdirSync(join(controlDir, "deploy", "bin"), { recursive: true });
    execFileSync("cp", [
      join(ROOT, "deploy", "bin", "edgesocks-control-launch"),
      join(controlDir, "deploy", "bin"),
    ]);
    const units = {
      "edgesocks-relay.service": relayTemplate.replaceAll("/opt/edgesocks-relay", installDir),
      "edgesocks-control.service": readFileSync(
        join(ROOT, "deploy", "systemd", "edgesocks-control.service"),
        "utf8",
      ).replaceAll("/opt/edgesocks-control", controlDir),
    };
    const rendered = renderRelayUnit(relayTemplate, {
      install_dir: installDir,
      env_file: "/etc/edgesocks/eu.env",
      state_dir: "/srv/edgesocks/state",
      user: "relay",
      group: "relay",
    });
    for (const [name, text] of [
      ...Object.entries(units),
      ["rendered/edgesocks-relay.service", rendered] as const,
    ]) {
      const path = join(tmp, name);
      mkdirSync(join(path, ".."), { recursive: true });
      writeFileSync(path, text);
      const result = await run("systemd-analyze", ["verify", path]);
      // Unknown or misspelt keys are only warnings: any output fails the check.
      expect({ name, code: result.code, output: (result.stdout + result.stderr).trim() }).toEqual({
        name,
        code: 0,
        output: "",
      });
    }
    expect(rendered).toContain("ReadWritePaths=/srv/edgesocks/state");
    expect(rendered).not.toContain("StateDirectory=");
    expect(rendered).toMatch(/^User=relay$/m);
    expect(rendered).toContain("EnvironmentFile=/etc/edgesocks/eu.env");
    for (const key of [
      "NoNewPrivileges=yes",
      "ProtectSystem=strict",
      "PrivateTmp=yes",
      "CapabilityBoundingSet=CAP_NET_BIND_SERVICE",
      "AmbientCapabilities=CAP_NET_BIND_SERVICE",
      "Type=notify",
      "NotifyAccess=all",
      "WatchdogSec=",
      "Restart=always",
      "StandardOutput=journal",
    ]) {
      expect(relayTemplate).toContain(key);
    }
  });

  it("the alert rules pass promtool check rules", async () => {
    if (!has("/usr/bin/promtool")) {
      console.warn("promtool missing (apt-get install prometheus): rules check skipped");
      return;
    }
    const result = await run("promtool", [
      "check",
      "rules",
      join(ROOT, "deploy", "prometheus", "alerts.yml"),
    ]);
    expect(result.stdout + result.stderr).toContain("SUCCESS");
    expect(result.code).toBe(0);
  });

  it("alerts and dashboard use only series the relay and control plane export", async () => {
    const relayNames = [
      ...readFileSync(join(ROOT, "apps", "relay", "src", "metrics.ts"), "utf8").matchAll(
        /name: "(edgesocks_relay_\w+)"/g,
      ),
    ].map((m) => m[1]!);
    const controlNames = [
      ...readFileSync(join(ROOT, "packages", "api", "src", "metrics.ts"), "utf8").matchAll(
        /name: `\$\{prefix\}(\w+)`/g,
      ),
    ].map((m) => `edgesocks_control_${m[1]!}`);
    const defaults = (await createRegistry().getMetricsAsJSON()).map((m) => m.name);
    // registerBuildInfo() (@edgesocks/telemetry) names these from the service.
    const buildInfo = ["edgesocks_relay_build_info", "edgesocks_control_build_info"];
    const known = new Set([...relayNames, ...controlNames, ...defaults, ...buildInfo]);
    expect(relayNames.length).toBeGreaterThan(20);
    expect(controlNames.length).toBeGreaterThan(10);
    for (const file of ["deploy/prometheus/alerts.yml", "deploy/grafana/edgesocks-fleet.json"]) {
      const used = new Set(
        [...readFileSync(join(ROOT, file), "utf8").matchAll(/edgesocks_[a-z0-9_]+/g)].map(
          (m) => m[0],
        ),
      );
      const unknown = [...used].filter(
        (name) => !known.has(name.replace(/_(bucket|count|sum)$/, "")),
      );
      expect({ file, unknown }).toEqual({ file, unknown: [] });
    }
  });

  it("the dashboard covers every view, with unique panel ids and a layout", () => {
    const dashboard = JSON.parse(
      readFileSync(join(ROOT, "deploy", "grafana", "edgesocks-fleet.json"), "utf8"),
    ) as {
      panels: { id: number; type: string; title: string; gridPos: { w: number; h: number } }[];
      templating: { list: { name: string }[] };
    };
    const ids = dashboard.panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(dashboard.panels.every((p) => p.gridPos.w > 0 && p.gridPos.h > 0)).toBe(true);
    const rows = dashboard.panels.filter((p) => p.type === "row").map((p) => p.title);
    expect(rows).toEqual([
      "Overview",
      "Per region",
      "Users",
      "ACL",
      "Performance",
      "Sessions",
      "Control plane",
      "Releases and TLS",
      "Pool and QoS",
    ]);
    expect(
      dashboard.panels.some((p) => p.type === "heatmap" && p.title === "Session duration"),
    ).toBe(true);
    expect(dashboard.panels.some((p) => p.title.startsWith("Top destinations"))).toBe(true);
    expect(dashboard.templating.list.map((v) => v.name)).toEqual([
      "datasource",
      "infinity",
      "region",
      "instance",
    ]);
  });

  it("inventory: host beats region beats [defaults] beats built-in, errors name the key", () => {
    const text = `[control]
url = "http://control:8080"
[defaults]
install_dir = "/srv/{region}/{name}"
socks_port = 1081
health_timeout_secs = 5
[[regions]]
name = "eu"
socks_port = 1082
[[regions.hosts]]
name = "a"
ssh = "a.example"
public_address = "192.0.2.1:1082"
[[regions.hosts]]
name = "b"
ssh = "b.example"
socks_port = 1083
public_address = "192.0.2.2:1083"
`;
    const inventory = parseInventory(text, "inv.toml", { EDGESOCKS_TOKEN: "esa_x" });
    const [a, b] = inventory.regions[0]!.hosts;
    expect(a).toMatchObject({
      install_dir: "/srv/eu/a",
      socks_port: 1082,
      health_timeout_secs: 5,
      env_file: "/etc/edgesocks/relay.env",
    });
    expect(b).toMatchObject({ socks_port: 1083, user: "edgesocks", service: "auto" });
    expect(inventory.control.relayUrl).toBe("ws://control:8080/trpc");
    expect(inventory.control.token()).toBe("esa_x");
    const bad = (t: string) => () => parseInventory(t, "inv.toml", {});
    expect(
      bad(text.replace('public_address = "192.0.2.1:1082"', 'public_address = "nope"')),
    ).toThrow("inv.toml: regions[0].hosts[0].public_address: expected HOST:PORT");
    expect(bad(text.replace('name = "b"', 'name = "a"'))).toThrow('host "a" is listed twice');
    expect(bad(`${text}\n[bogus]\n`)).toThrow("inv.toml");
    expect(() => parseInventory(text, "inv.toml", {}).control.token()).toThrow(
      "set EDGESOCKS_TOKEN",
    );
  });

  it("the env file is single-quoted for systemd and sh alike, and refuses what it cannot quote", () => {
    const [host] = parseInventory(
      `[control]\nurl = "http://c:1"\n[[regions]]\nname = "eu"\n[[regions.hosts]]\nname = "a"\nssh = "a"\npublic_address = "192.0.2.1:1080"\n`,
      "inv.toml",
    ).regions[0]!.hosts;
    const env = renderEnvFile({
      host: host!,
      relayUrl: "ws://c:1/trpc",
      nodeToken: "ese_abc",
      manager: "supervise",
      inventoryPath: "inv.toml",
    });
    expect(env).toContain("EDGESOCKS_NODE_TOKEN='ese_abc'");
    expect(env).toContain("EDGESOCKS_USER='edgesocks'");
    // sh reads it back unchanged.
    const envPath = join(tmp, "relay.env");
    writeFileSync(envPath, env);
    const sourced = execFileSync("sh", [
      "-c",
      'set -a; . "$1"; set +a; printf %s "$EDGESOCKS_CONTROL_URL"',
      "sh",
      envPath,
    ]).toString();
    expect(sourced).toBe("ws://c:1/trpc");
    expect(
      renderEnvFile({
        host: host!,
        relayUrl: "x",
        nodeToken: "t",
        manager: "systemd",
        inventoryPath: "i",
      }),
    ).not.toContain("EDGESOCKS_USER");
    expect(() =>
      renderEnvFile({
        host: { ...host!, env: { NODE_OPTIONS: "it's" } },
        relayUrl: "x",
        nodeToken: "t",
        manager: "systemd",
        inventoryPath: "i",
      }),
    ).toThrow("NODE_OPTIONS: a value may not contain");
  });

  it("the release bundle is the relay built ahead of time, its native modules, and nothing of the server", async () => {
    const out = mkdtempSync("/tmp/esd-tree-");
    try {
      const { files } = await buildReleaseTree({ repoRoot: ROOT, app: "relay", outDir: out });
      for (const needed of [
        "apps/relay/bin/edgesocks-relay.mjs",
        "apps/relay/bin/shard-worker.mjs",
        "apps/relay/package.json",
        "node_modules/@node-rs/argon2/index.js",
        "node_modules/@node-rs/argon2-linux-x64-gnu/argon2.linux-x64-gnu.node",
        "node_modules/koffi/index.js",
        "node_modules/koffi/build/koffi/linux_x64/koffi.node",
      ]) {
        expect(files).toContain(needed);
      }
      // No sources, no loader, no database driver: only the two bundles and the native module.
      expect(files.filter((f) => /\.ts$/.test(f) || f.startsWith("node_modules/tsx/"))).toEqual([]);
      expect(files.filter((f) => /libsql|drizzle/.test(f))).toEqual([]);
      // Of koffi's builds for every platform, only this one's ships.
      expect(
        files.filter(
          (f) => f.startsWith("node_modules/koffi/build/koffi/") && !f.includes("/linux_x64/"),
        ),
      ).toEqual([]);
      const bundle = readFileSync(join(out, "apps/relay/bin/edgesocks-relay.mjs"), "utf8");
      expect(bundle).not.toContain("drizzle-orm");
      expect(bundle).not.toContain("tsx/esm/api");
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
    // The relay may only import @edgesocks/api's types and ./wire: its server code would pull in libSQL.
    const valueImports = execFileSync("grep", [
      "-rn",
      "--include=*.ts",
      'from "@edgesocks/api',
      join(ROOT, "apps", "relay", "src"),
    ])
      .toString()
      .split("\n")
      .filter(
        (line) =>
          line &&
          !line.includes(".test.ts") &&
          !/import type /.test(line) &&
          !line.includes('"@edgesocks/api/wire"'),
      );
    expect(valueImports).toEqual([]);
  });

  it("the shell scripts shipped to hosts parse", () => {
    for (const script of [
      "deploy/remote/host.sh",
      "deploy/bin/edgesocks-relay-launch",
      "deploy/bin/edgesocks-relay-supervise",
      "deploy/bin/edgesocks-control-launch",
    ]) {
      expect(() => execFileSync("sh", ["-n", join(ROOT, script)])).not.toThrow();
    }
  });
});

/** A port in 20000–32000 that nothing listens on right now. */
async function unusedPortBelowEphemeral(): Promise<number> {
  const { createServer } = await import("node:net");
  for (let attempt = 0; attempt < 50; attempt++) {
    const candidate = 20_000 + Math.floor(Math.random() * 12_000);
    const free = await new Promise<boolean>((resolve) => {
      const server = createServer();
      server.once("error", () => resolve(false));
      server.listen(candidate, "127.0.0.1", () => server.close(() => resolve(true)));
    });
    if (free) return candidate;
  }
  throw new Error("no free port in 20000-32000");
}
