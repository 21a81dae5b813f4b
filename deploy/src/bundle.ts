import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import {
  chmodSync,
  copyFileSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { dirname, join, resolve } from "node:path";
import { promisify } from "node:util";
import { DeployError } from "./errors";
import { buildReleaseTree, listFiles } from "./release-build";

const exec = promisify(execFile);

/**
 * A release: the relay's release build (deploy/src/release-build.ts: its
 * entry points bundled ahead of time, its native modules as node_modules),
 * the launch and supervisor scripts, the unit, and `release.json`. The Node
 * runtime is a separate artifact (`runtimes/<id>` on the host) so an upgrade
 * that keeps Node uploads a few MB instead of 50.
 */
export interface Release {
  /** `<relay version>-<content hash>`: the same sources give the same version. */
  version: string;
  tarball: string;
  runtime: Runtime;
  manifest: ReleaseManifest;
}

export interface Runtime {
  /** `node-v24.21.0-linux-x64-<hash>` */
  id: string;
  tarball: string;
}

export interface ReleaseManifest {
  name: "edgesocks-relay";
  version: string;
  relayVersion: string;
  runtime: { id: string; nodeVersion: string; platform: string; arch: string };
  files: number;
}

function sha256File(path: string): string {
  return createHash("sha256").update(readFileSync(path)).digest("hex");
}

export interface BuildOptions {
  repoRoot: string;
  /** Built tarballs are cached here by version. */
  cacheDir: string;
  /** The Node binary to ship. @default the repo's pinned `node` package */
  nodeBinary?: string;
}

/** Builds (or finds in the cache) the release and runtime tarballs. */
export async function buildRelease(options: BuildOptions): Promise<Release> {
  const { repoRoot, cacheDir } = options;
  mkdirSync(cacheDir, { recursive: true });
  const runtime = await buildRuntime(options);
  const deployDir = join(repoRoot, "deploy");
  // The relay's release build, then the launchers and unit beside it.
  const stage = join(cacheDir, "stage-build");
  const tree = await buildReleaseTree({ repoRoot, app: "relay", outDir: stage });
  const generated: { path: string; source: string; mode: number }[] = [
    { path: "bin/edgesocks-relay-launch", source: "bin/edgesocks-relay-launch", mode: 0o755 },
    { path: "bin/edgesocks-relay-supervise", source: "bin/edgesocks-relay-supervise", mode: 0o755 },
    {
      path: "systemd/edgesocks-relay.service",
      source: "systemd/edgesocks-relay.service",
      mode: 0o644,
    },
    {
      path: "systemd/edgesocks.sysusers.conf",
      source: "systemd/edgesocks.sysusers.conf",
      mode: 0o644,
    },
  ];
  for (const file of generated) {
    mkdirSync(dirname(join(stage, file.path)), { recursive: true });
    copyFileSync(join(deployDir, file.source), join(stage, file.path));
    chmodSync(join(stage, file.path), file.mode);
  }
  const files = listFiles(stage);
  const hash = createHash("sha256");
  hash.update(`runtime ${runtime.id}\n`);
  for (const file of files) {
    const path = join(stage, file);
    const exec = (lstatSync(path).mode & 0o111) !== 0 ? "x" : "-";
    hash.update(`F ${file} ${exec} ${sha256File(path)}\n`);
  }
  const version = `${tree.version}-${hash.digest("hex").slice(0, 12)}`;
  const manifest: ReleaseManifest = {
    name: "edgesocks-relay",
    version,
    relayVersion: tree.version,
    runtime: runtimeInfo(runtime.id),
    files: files.length,
  };
  const tarball = join(cacheDir, `edgesocks-relay-${version}.tar.gz`);
  if (!existsSync(tarball)) {
    // releases/<version>/node → the runtime unpacked beside the releases.
    symlinkSync(`../../runtimes/${runtime.id}`, join(stage, "node"));
    writeFileSync(join(stage, "release.json"), `${JSON.stringify(manifest, null, 2)}\n`);
    await packDirectory(stage, tarball);
  }
  rmSync(stage, { recursive: true, force: true });
  pruneCache(cacheDir, tarball);
  return { version, tarball, runtime, manifest };
}

/** Cached release tarballs kept (newest first); older ones are deleted. */
const CACHE_KEEP = 5;

function pruneCache(cacheDir: string, keep: string) {
  const tarballs = readdirSync(cacheDir)
    .filter((name) => /^edgesocks-relay-.*\.tar\.gz$/.test(name))
    .map((name) => ({
      path: join(cacheDir, name),
      mtimeMs: lstatSync(join(cacheDir, name)).mtimeMs,
    }))
    .sort((a, b) => b.mtimeMs - a.mtimeMs);
  for (const old of tarballs.slice(CACHE_KEEP))
    if (old.path !== keep) rmSync(old.path, { force: true });
}

/** `tar` with fixed owner and time, so the same tree gives the same archive. */
export async function packDirectory(dir: string, tarball: string): Promise<void> {
  const tmp = `${tarball}.tmp`;
  try {
    await exec(
      "tar",
      [
        "--sort=name",
        "--owner=0",
        "--group=0",
        "--numeric-owner",
        "--mtime=@0",
        "-czf",
        tmp,
        "-C",
        dir,
        ".",
      ],
      { env: { ...process.env, GZIP: "-1" }, maxBuffer: 1 << 20 },
    );
  } catch (cause) {
    throw new DeployError("DEPLOY_E_BUNDLE", `tar ${dir}: ${(cause as Error).message}`, { cause });
  }
  renameSync(tmp, tarball);
}

async function buildRuntime(options: BuildOptions): Promise<Runtime> {
  const pinned = join(options.repoRoot, "node_modules", "node", "bin", "node");
  const binary = options.nodeBinary ?? (existsSync(pinned) ? pinned : process.execPath);
  const { stdout } = await exec(binary, [
    "-p",
    "process.version + ' ' + process.platform + ' ' + process.arch",
  ]);
  const [nodeVersion, platform, arch] = stdout.trim().split(" ");
  const id = `node-${nodeVersion}-${platform}-${arch}-${sha256File(binary).slice(0, 12)}`;
  const tarball = join(options.cacheDir, `${id}.tar.gz`);
  if (!existsSync(tarball)) {
    const stage = join(options.cacheDir, `stage-${id}`);
    rmSync(stage, { recursive: true, force: true });
    mkdirSync(join(stage, "bin"), { recursive: true });
    copyFileSync(binary, join(stage, "bin", "node"));
    chmodSync(join(stage, "bin", "node"), 0o755);
    await packDirectory(stage, tarball);
    rmSync(stage, { recursive: true, force: true });
  }
  return { id, tarball };
}

function runtimeInfo(id: string): ReleaseManifest["runtime"] {
  const match = /^node-(v[^-]+)-([^-]+)-([^-]+)-/.exec(id);
  return { id, nodeVersion: match?.[1] ?? "", platform: match?.[2] ?? "", arch: match?.[3] ?? "" };
}

/** Reads `release.json` out of a prebuilt release tarball (`--bundle`). */
export async function readBundleManifest(tarball: string): Promise<ReleaseManifest> {
  try {
    const { stdout } = await exec("tar", ["-xzOf", resolve(tarball), "./release.json"], {
      maxBuffer: 1 << 20,
    });
    return JSON.parse(stdout) as ReleaseManifest;
  } catch (cause) {
    throw new DeployError(
      "DEPLOY_E_BUNDLE",
      `${tarball}: not a release bundle (no readable release.json: ${(cause as Error).message})`,
      { cause },
    );
  }
}
