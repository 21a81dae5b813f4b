import { execFileSync } from "node:child_process";
import { Gauge, type Registry } from "prom-client";

/**
 * The commit a process runs: EDGESOCKS_COMMIT (set by a build or deploy), else the git checkout
 * `dir` is in (running from source), else "unknown".
 */
export function buildCommit(dir: string, env: NodeJS.ProcessEnv = process.env): string {
  const given = env.EDGESOCKS_COMMIT?.trim();
  if (given) return given;
  try {
    return execFileSync("git", ["rev-parse", "--short=12", "HEAD"], {
      cwd: dir,
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"],
      timeout: 2000,
    }).trim();
  } catch {
    return "unknown";
  }
}

export interface BuildInfo {
  version: string;
  commit: string;
}

/**
 * `edgesocks_<service>_build_info{version, commit, node_version} 1`: which release runs where
 * (join on it in queries; alert on mixed versions). Threads of one process report it once.
 */
export function registerBuildInfo(
  registry: Registry,
  service: "relay" | "control",
  info: BuildInfo,
): Gauge<"version" | "commit" | "node_version"> {
  const gauge = new Gauge({
    name: `edgesocks_${service}_build_info`,
    help: `The running ${service} build: version, commit and Node.js version (always 1)`,
    labelNames: ["version", "commit", "node_version"] as const,
    aggregator: "first",
    registers: [registry],
  });
  gauge.set({ version: info.version, commit: info.commit, node_version: process.version }, 1);
  return gauge;
}
