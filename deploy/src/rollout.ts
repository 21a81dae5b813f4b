import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Release } from "./bundle";
import type { ControlApi, NodeView } from "./control-api";
import { renderEnvFile, tokenFromEnvFile } from "./env-file";
import { DeployError } from "./errors";
import { HostOps, type HostState } from "./host-ops";
import type { HostPlan, Inventory } from "./inventory";
import { SshHost } from "./ssh";
import { renderRelayUnit } from "./systemd-unit";

export type Action = "unchanged" | "deployed" | "repaired" | "rolled-back" | "failed" | "skipped";

export interface HostReport {
  region: string;
  host: string;
  action: Action;
  from: string | undefined;
  to: string | undefined;
  detail: string;
  durationMs: number;
}

/** What a host needs, worked out from its state before anything is changed. */
export interface HostSteps {
  state: HostState;
  enroll: "new" | "re-enroll" | undefined;
  uploadRuntime: boolean;
  uploadRelease: boolean;
  writeEnv: boolean;
  activate: boolean;
  restart: boolean;
}

export interface RolloutOptions {
  inventory: Inventory;
  release: Release;
  /** Null in a dry run without a reachable control plane or token. */
  api: ControlApi | null;
  dryRun: boolean;
  log: (line: string) => void;
  /** Poll period for health and sync checks. @default 500 */
  pollMs?: number;
}

const UNIT_TEMPLATE = readFileSync(
  join(import.meta.dirname, "..", "systemd", "edgesocks-relay.service"),
  "utf8",
);
const LOG_LINES_ON_FAILURE = 20;

/**
 * Rolls the release out region by region (file order), one host at a time;
 * the first host that fails its health check is rolled back and nothing after
 * it is touched.
 */
export async function rollout(options: RolloutOptions): Promise<HostReport[]> {
  const { inventory, log } = options;
  const reports: HostReport[] = [];
  let stopped = false;
  // ssh ControlMaster sockets for this run (private: 0700), removed at the end.
  const controlDir = mkdtempSync(join(tmpdir(), "esd-ssh-"));
  try {
    for (const region of inventory.regions) {
      for (const host of region.hosts) {
        if (stopped) {
          reports.push({
            region: host.region,
            host: host.name,
            action: "skipped",
            from: undefined,
            to: undefined,
            detail: "not attempted: the rollout stopped at an earlier host",
            durationMs: 0,
          });
          continue;
        }
        const started = Date.now();
        const prefix = `[${host.region}/${host.name}]`;
        const hostLog = (line: string) => log(`${prefix} ${line}`);
        let report: HostReport;
        const ssh = new SshHost(inventory, host, { controlDir });
        try {
          report = await deployHost({ ...options, host, ssh, log: hostLog });
        } catch (error) {
          report = {
            region: host.region,
            host: host.name,
            action: "failed",
            from: undefined,
            to: options.release.version,
            detail: (error as Error).message,
            durationMs: 0,
          };
        } finally {
          await ssh.close();
        }
        report.durationMs = Date.now() - started;
        hostLog(`${report.action}: ${report.detail}`);
        reports.push(report);
        if (report.action === "failed" || report.action === "rolled-back") stopped = true;
      }
    }
  } finally {
    rmSync(controlDir, { recursive: true, force: true });
  }
  return reports;
}

interface HostContext extends RolloutOptions {
  host: HostPlan;
  ssh: SshHost;
}

/** Decides what a host needs (no changes made). */
export function planSteps(
  state: HostState,
  release: Release,
  node: NodeView | undefined,
  desiredEnv: (token: string) => string,
): HostSteps & { token: string | undefined } {
  const existingToken = state.envFile ? tokenFromEnvFile(state.envFile) : undefined;
  let enroll: HostSteps["enroll"];
  if (!node) enroll = "new";
  else if (!node.enrolled)
    enroll = "re-enroll"; // a fresh one-time token: the old one may have expired
  else if (!state.nodeTokenFile && !existingToken?.startsWith("esn_")) enroll = "re-enroll"; // host lost its state
  const token = enroll ? undefined : existingToken;
  const env = token ? desiredEnv(token) : undefined;
  const writeEnv = enroll !== undefined || env !== state.envFile;
  const activate = state.current !== release.version;
  return {
    state,
    enroll,
    token,
    uploadRuntime: !state.runtimes.includes(release.runtime.id),
    uploadRelease: !state.releases.includes(release.version),
    writeEnv,
    activate,
    restart: activate || writeEnv || !state.running,
  };
}

async function deployHost(ctx: HostContext): Promise<HostReport> {
  const { host, release, api, log, inventory } = ctx;
  const ops = new HostOps(ctx.ssh, host);
  const base = { region: host.region, host: host.name, to: release.version, durationMs: 0 };
  const state = await ops.state();
  const node = api ? (await api.listNodes()).find((n) => n.name === host.name) : undefined;
  if (node && node.region !== host.region) {
    throw new DeployError(
      "DEPLOY_E_ENROLL",
      `node ${host.name} is enrolled in region ${node.region}, the inventory says ${host.region}; ` +
        "rename the host or re-enroll it by hand",
    );
  }
  const desiredEnv = (token: string) =>
    renderEnvFile({
      host,
      relayUrl: inventory.control.relayUrl,
      nodeToken: token,
      manager: state.manager,
      inventoryPath: inventory.path,
    });
  const steps = planSteps(state, release, node, desiredEnv);
  const from = state.current;
  const changes = describeSteps(steps, release);
  if (ctx.dryRun) {
    log(
      `plan (${state.manager}): ${changes.length > 0 ? changes.join(", ") : "nothing to change"}`,
    );
    return {
      ...base,
      from,
      action: changes.length > 0 ? "deployed" : "unchanged",
      detail: "dry run",
    };
  }
  if (!api) throw new DeployError("DEPLOY_E_CONTROL", "no control-plane client");

  if (!steps.restart && !steps.uploadRelease && !steps.uploadRuntime) {
    // Nothing to change: still prove the host healthy, and repair it if not.
    if ((await ops.ready()) && isSynced(node)) {
      return { ...base, from, action: "unchanged", detail: `${release.version} ready and SYNCED` };
    }
    log("no change needed but not healthy: restarting");
    await ops.restart(state.manager === "systemd" ? await uploadUnit(ops) : undefined);
    await waitHealthy(ctx, ops);
    return {
      ...base,
      from,
      action: "repaired",
      detail: `${release.version} restarted, ready and SYNCED`,
    };
  }

  log(changes.join(", "));
  if (steps.uploadRuntime) {
    log(`uploading runtime ${release.runtime.id}`);
    await ops.install("runtime", release.runtime.id, release.runtime.tarball);
  }
  if (steps.uploadRelease) {
    log(`uploading release ${release.version}`);
    await ops.install("release", release.version, release.tarball);
  }
  await ops.ensureUser(state.manager);
  let token = steps.token;
  if (steps.enroll) {
    const enrolled = await api.enroll({
      name: host.name,
      region: host.region,
      replace: steps.enroll === "re-enroll",
    });
    token = enrolled.enrollmentToken;
    log(
      `${steps.enroll === "new" ? "enrolled" : "re-enrolled"} node ${host.name} in ${host.region}`,
    );
  }
  const env = desiredEnv(token!);
  if (steps.writeEnv) await ops.writeFile(host.env_file, "600", env);
  if (steps.activate) await ops.activate(release.version);
  const unit = state.manager === "systemd" ? await uploadUnit(ops) : undefined;
  log(`restarting (${state.manager})`);
  try {
    await ops.restart(unit);
    await waitHealthy(ctx, ops);
  } catch (error) {
    const reason = (error as Error).message;
    const logs = await ops.logs(LOG_LINES_ON_FAILURE);
    if (logs) log(`last log lines:\n${indent(logs)}`);
    return { ...base, from, ...(await rollBack(ctx, ops, state, steps, reason)) };
  }
  const pruned = await ops.prune();
  if (pruned.length > 0) log(`pruned ${pruned.join(", ")}`);
  return {
    ...base,
    from,
    action: "deployed",
    detail: `${from ?? "nothing"} → ${release.version}, ready and SYNCED`,
  };
}

async function rollBack(
  ctx: HostContext,
  ops: HostOps,
  before: HostState,
  steps: HostSteps,
  reason: string,
): Promise<{ action: Action; detail: string }> {
  const { log } = ctx;
  const previous = steps.activate ? before.current : undefined;
  try {
    if (steps.writeEnv && before.envFile !== undefined && !steps.enroll) {
      await ops.writeFile(ctx.host.env_file, "600", before.envFile);
    }
    if (!previous) {
      if (steps.activate) {
        await ops.stop();
        return {
          action: "failed",
          detail: `${reason}; first release on this host, nothing to roll back to: service stopped`,
        };
      }
      return { action: "failed", detail: reason };
    }
    log(`health check failed (${reason}); rolling back to ${previous}`);
    await ops.rollback();
    await ops.restart(before.manager === "systemd" ? await uploadUnit(ops) : undefined);
    await waitReady(ctx, ops);
    return {
      action: "rolled-back",
      detail: `${ctx.release.version} failed (${reason}); back on ${previous}, ready`,
    };
  } catch (error) {
    return {
      action: "failed",
      detail: `${reason}; rollback to ${previous ?? "nothing"} also failed: ${(error as Error).message}`,
    };
  }
}

async function uploadUnit(ops: HostOps): Promise<string> {
  const path = join(ops.host.install_dir, "incoming", "edgesocks-relay.service");
  await ops.writeFile(path, "644", renderRelayUnit(UNIT_TEMPLATE, ops.host));
  return path;
}

function isSynced(node: NodeView | undefined): boolean {
  return (
    node !== undefined &&
    node.configStatus === "SYNCED" &&
    node.newestVersion !== null &&
    node.appliedVersion === node.newestVersion &&
    (node.watching === true || node.online === true)
  );
}

async function waitReady(ctx: HostContext, ops: HostOps): Promise<void> {
  const deadline = Date.now() + ctx.host.health_timeout_secs * 1000;
  while (Date.now() < deadline) {
    if (await ops.ready()) return;
    await sleep(ctx.pollMs ?? 500);
  }
  throw new DeployError(
    "DEPLOY_E_HEALTH",
    `/ready not answering 200 after ${ctx.host.health_timeout_secs}s`,
  );
}

/** /ready from the host, then the control plane's word that the node applied the newest snapshot. */
async function waitHealthy(ctx: HostContext, ops: HostOps): Promise<void> {
  await waitReady(ctx, ops);
  const deadline = Date.now() + ctx.host.sync_timeout_secs * 1000;
  let last: NodeView | undefined;
  while (Date.now() < deadline) {
    last = (await ctx.api!.listNodes()).find((n) => n.name === ctx.host.name);
    if (isSynced(last)) return;
    await sleep(ctx.pollMs ?? 500);
  }
  throw new DeployError(
    "DEPLOY_E_HEALTH",
    `node not SYNCED after ${ctx.host.sync_timeout_secs}s (status ${last?.configStatus ?? "unknown"}, ` +
      `applied ${last?.appliedVersion ?? "none"} of ${last?.newestVersion ?? "none"}` +
      `${last?.rejectionReason ? `, rejected: ${last.rejectionReason}` : ""})`,
  );
}

export function describeSteps(steps: HostSteps, release: Release): string[] {
  const out: string[] = [];
  if (steps.uploadRuntime) out.push(`upload runtime ${release.runtime.id}`);
  if (steps.uploadRelease) out.push(`upload release ${release.version}`);
  if (steps.enroll === "new") out.push("enroll node");
  if (steps.enroll === "re-enroll") out.push("re-enroll node (fresh one-time token)");
  if (steps.writeEnv) out.push("write env file");
  if (steps.activate) out.push(`switch ${steps.state.current ?? "(none)"} → ${release.version}`);
  if (steps.restart) out.push(steps.activate || steps.writeEnv ? "restart" : "start (not running)");
  return out;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const indent = (text: string) =>
  text
    .split("\n")
    .map((l) => `    ${l}`)
    .join("\n");
