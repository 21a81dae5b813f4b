import { type FSWatcher, readFileSync, watch } from "node:fs";
import { basename, dirname } from "node:path";
import {
  type AclToml,
  aclTomlToSnapshotParts,
  type PolicySnapshot,
  parseAclToml,
  sealSnapshot,
} from "@edgesocks/policy";
import type { Logger } from "@edgesocks/telemetry";
import { backendSettings, snapshotMethod } from "../auth/auth-backends";
import type { QuotaConfig, RelayConfig } from "../config/schema";
import { RelayError } from "../errors";
import type { RelayMetrics } from "../metrics";
import { describeFailures, type ListenerFailure, type PolicyStore } from "./policy-store";

export interface StandaloneSourceOptions {
  config: RelayConfig;
  /** Resolved path of the ACL file, when ACL is enabled. */
  aclPath: string | undefined;
  store: PolicyStore;
  logger: Logger;
  metrics: RelayMetrics;
}

/**
 * Policy from local files: the relay config's users and limits plus the ACL
 * file, turned into the same snapshot the control plane would send, so
 * standalone and fleet mode share every line of enforcement.
 */
export class StandalonePolicySource {
  #version = 0;
  #watcher: FSWatcher | undefined;
  #debounce: NodeJS.Timeout | undefined;
  readonly #epoch = `standalone-${process.pid}-${Date.now()}`;

  constructor(private options: StandaloneSourceOptions) {}

  /** First load: any problem is fatal (RelayError RELAY_E_ACL_FILE). */
  start(): void {
    const snapshot = this.#build();
    // Nothing listens yet at start, so there is nothing that could fail in part.
    this.options.store.apply(snapshot);
    this.options.metrics.policyVersion.set(snapshot.version);
    if (this.options.config.acl.enabled && this.options.config.acl.watch && this.options.aclPath) {
      this.#watch(this.options.aclPath);
    }
  }

  /**
   * Re-reads the files; an invalid result is logged and rejected while the
   * policy in force stays. `config` replaces the main config when SIGHUP
   * re-read it too.
   */
  reload(config?: RelayConfig): boolean {
    const { store, logger, metrics } = this.options;
    if (config && backendSettings(config.auth) !== backendSettings(this.options.config.auth)) {
      // PAM and directory groups are set up at start; half-switching them is worse than refusing.
      metrics.policyReloads.inc({ result: "rejected" });
      logger.error(
        "policy reload rejected: PAM methods, [auth.pam], auth.group_source and auth.group_lookup_env only change on restart; the previous policy stays in force",
      );
      return false;
    }
    if (config) this.options = { ...this.options, config };
    let snapshot: PolicySnapshot;
    let failures: ListenerFailure[];
    try {
      snapshot = this.#build();
      ({ failures } = store.apply(snapshot));
    } catch (error) {
      metrics.policyReloads.inc({ result: "rejected" });
      logger.error(
        { err: (error as Error).message },
        "policy reload rejected; the previous policy stays in force",
      );
      return false;
    }
    metrics.policyVersion.set(snapshot.version);
    const fields = { version: snapshot.version, rules: snapshot.rules.length };
    if (failures.length > 0) {
      // In force all the same: say so, and what did not happen.
      metrics.policyReloads.inc({ result: "applied_with_errors" });
      logger.error(
        { ...fields, failures: describeFailures(failures) },
        "policy reloaded and in force, but carrying it out failed in part",
      );
    } else {
      metrics.policyReloads.inc({ result: "applied" });
      logger.info(fields, "policy reloaded");
    }
    return true;
  }

  close(): void {
    clearTimeout(this.#debounce);
    this.#watcher?.close();
  }

  #build(): PolicySnapshot {
    const { config, aclPath, logger } = this.options;
    let acl: AclToml = { defaultPolicy: "allow", users: [], groups: [], rules: [], routes: [] };
    if (config.acl.enabled && aclPath) {
      let text: string;
      try {
        text = readFileSync(aclPath, "utf8");
      } catch (cause) {
        throw new RelayError(
          "RELAY_E_ACL_FILE",
          `${aclPath}: cannot read (${(cause as Error).message})`,
          {
            cause,
          },
        );
      }
      const parsed = parseAclToml(text);
      if (!parsed.ok) throw new RelayError("RELAY_E_ACL_FILE", `${aclPath}: ${parsed.error}`);
      for (const warning of parsed.warnings) logger.warn(`${aclPath}: ${warning}`);
      acl = parsed.acl;
    }
    const parts = aclTomlToSnapshotParts(
      acl,
      config.auth.users.map((user) => ({
        username: user.username,
        enabled: user.enabled,
        groups: user.groups,
        ...(user.password_hash ? { passwordHash: user.password_hash } : {}),
        ...(user.password !== undefined && !user.password_hash ? { password: user.password } : {}),
        ...(user.max_connections ? { maxConnections: user.max_connections } : {}),
        ...(user.quota ? { quota: snapshotQuota(user.quota) } : {}),
        ...(user.bandwidth_bytes_per_sec || user.guaranteed_bandwidth_bytes_per_sec
          ? {
              qos: {
                ...(user.bandwidth_bytes_per_sec
                  ? { maxBytesPerSec: user.bandwidth_bytes_per_sec }
                  : {}),
                ...(user.guaranteed_bandwidth_bytes_per_sec
                  ? { guaranteedBytesPerSec: user.guaranteed_bandwidth_bytes_per_sec }
                  : {}),
              },
            }
          : {}),
      })),
    );
    for (const group of config.auth.groups) {
      let target = parts.groups.find((g) => g.name === group.name);
      if (target === undefined) {
        target = { name: group.name };
        parts.groups.push(target);
      }
      if (group.quota) target.quota = snapshotQuota(group.quota);
    }
    const { htb, connection_limits: limits } = config.qos;
    const sealed = sealSnapshot({
      version: this.#version + 1,
      epoch: this.#epoch,
      createdAt: new Date().toISOString(),
      auth: {
        methods: [snapshotMethod(config.auth.socks_method)],
        anonymousUser: config.acl.anonymous_user,
      },
      ...parts,
      acl: { enabled: config.acl.enabled, defaultPolicy: acl.defaultPolicy },
      qos: {
        enabled: config.qos.enabled,
        fairSharing: htb.fair_sharing_enabled,
        globalBytesPerSec: htb.global_bandwidth_bytes_per_sec,
        guaranteedBytesPerSec: htb.guaranteed_bandwidth_bytes_per_sec,
        maxBytesPerSec: htb.max_bandwidth_bytes_per_sec,
        burstBytes: htb.burst_size_bytes,
        maxConnectionsPerUser: limits.max_connections_per_user,
        maxConnectionsGlobal: limits.max_connections_global,
        maxConnectionsPerClient: limits.max_connections_per_client,
      },
      ...(config.auth.quota_timezone !== "UTC"
        ? { quotaTimezone: config.auth.quota_timezone }
        : {}),
    });
    if (!sealed.ok) throw new RelayError("RELAY_E_SNAPSHOT", sealed.error);
    this.#version += 1;
    return sealed.snapshot;
  }

  #watch(path: string): void {
    // Watch the directory, not the file: editors and config managers replace
    // files by rename, which a file watch would lose track of.
    const name = basename(path);
    this.#watcher = watch(dirname(path), (_event, changed) => {
      if (changed !== null && changed !== name) return;
      clearTimeout(this.#debounce);
      this.#debounce = setTimeout(() => this.reload(), 100);
    });
    this.#watcher.on("error", (error) =>
      this.options.logger.warn(
        { err: error.message },
        "ACL file watch failed; SIGHUP still reloads",
      ),
    );
  }
}

function snapshotQuota(quota: QuotaConfig) {
  return {
    bytes: quota.bytes,
    period: quota.period,
    direction: quota.direction,
    onExhaust: quota.on_exhaust,
    ...(quota.throttle_bytes_per_sec ? { throttleBytesPerSec: quota.throttle_bytes_per_sec } : {}),
  };
}
