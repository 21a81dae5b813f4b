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
  readlinkSync,
  realpathSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { basename, dirname, join, relative, resolve, sep } from "node:path";
import { promisify } from "node:util";
import { DeployError } from "./errors";

const exec = promisify(execFile);

/**
 * A release: the relay workspace, the workspace packages and npm packages it
 * needs at run time (paths as in the repo, so Node resolves them the same
 * way), the launch and supervisor scripts, and `release.json`. The Node
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

/** Packages only needed for type checking, never loaded at run time. */
const TYPE_ONLY = new Set(["typescript"]);
/** Run-time needs that package.json does not list: the relay's bin loads TypeScript through tsx. */
const EXTRA_RUNTIME_DEPS = ["tsx"];
/**
 * Workspace packages the relay uses only in part, and the dependencies that
 * part needs: the relay imports `@edgesocks/api` for types and the zod-only
 * `./wire` module, never its server code, so the database driver and ORM stay
 * out of the bundle (20+ MB). e2e/deploy.test.ts checks the relay's imports.
 */
export const PARTIAL_PACKAGES: Record<string, string[]> = { "@edgesocks/api": ["zod"] };
/** Files no running relay reads. */
const SKIP_FILE = /(\.d\.[cm]?ts|\.map|\.md|\.test\.ts)$/;
const SKIP_DIR = new Set(["node_modules", "test-support", ".turbo", "test", "__tests__"]);

interface Collected {
  files: string[];
  links: { path: string; target: string }[];
}

/** Walks the production dependency closure of apps/relay, as installed in the repo. */
export function collectRelayFiles(repoRoot: string): Collected {
  return walk(repoRoot, [{ dir: join(repoRoot, "apps", "relay"), extra: EXTRA_RUNTIME_DEPS }]);
}

/** The files of npm packages (resolved from the repo root) and of everything they depend on. */
export function collectPackageFiles(repoRoot: string, names: string[]): Collected {
  return walk(
    repoRoot,
    names.map((name) => {
      const found = resolvePackage(repoRoot, repoRoot, name);
      if (!found) {
        throw new DeployError("DEPLOY_E_BUNDLE", `${name} is not installed (run npm ci)`);
      }
      return { dir: found.real, extra: [] };
    }),
  );
}

function walk(repoRoot: string, queue: { dir: string; extra: string[] }[]): Collected {
  const files = new Set<string>();
  const links = new Map<string, string>();
  const seen = new Set<string>();
  while (queue.length > 0) {
    const { dir, extra } = queue.shift()!;
    if (seen.has(dir)) continue;
    seen.add(dir);
    const pkg = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as {
      name?: string;
      dependencies?: Record<string, string>;
      optionalDependencies?: Record<string, string>;
      peerDependencies?: Record<string, string>;
      peerDependenciesMeta?: Record<string, { optional?: boolean }>;
    };
    addTree(repoRoot, dir, files);
    const optional = new Set([
      ...Object.keys(pkg.optionalDependencies ?? {}),
      ...Object.entries(pkg.peerDependenciesMeta ?? {})
        .filter(([, meta]) => meta.optional)
        .map(([name]) => name),
    ]);
    const partial = pkg.name !== undefined ? PARTIAL_PACKAGES[pkg.name] : undefined;
    const wanted = new Set(
      partial ?? [
        ...Object.keys(pkg.dependencies ?? {}),
        ...Object.keys(pkg.optionalDependencies ?? {}),
        ...Object.keys(pkg.peerDependencies ?? {}).filter((name) => !TYPE_ONLY.has(name)),
        ...extra,
      ],
    );
    for (const name of wanted) {
      if (name.startsWith("@types/")) continue;
      const found = resolvePackage(repoRoot, dir, name);
      if (!found) {
        // Optional (other platforms' native builds) and optional peers may be absent.
        if (optional.has(name)) continue;
        throw new DeployError(
          "DEPLOY_E_BUNDLE",
          `${pkg.name ?? dir} needs ${name}, which is not installed (run npm ci)`,
        );
      }
      if (found.link) links.set(relative(repoRoot, found.path), readlinkSync(found.path));
      queue.push({ dir: found.real, extra: [] });
    }
  }
  return {
    files: [...files].sort(),
    links: [...links].map(([path, target]) => ({ path, target })),
  };
}

function resolvePackage(repoRoot: string, fromDir: string, name: string) {
  let dir = fromDir;
  while (dir.startsWith(repoRoot)) {
    if (basename(dir) !== "node_modules") {
      const candidate = join(dir, "node_modules", name);
      const stat = lstatSync(candidate, { throwIfNoEntry: false });
      if (stat) {
        const real = realpathSync(candidate);
        if (!real.startsWith(repoRoot + sep)) {
          throw new DeployError(
            "DEPLOY_E_BUNDLE",
            `${candidate} points outside the repository (${real})`,
          );
        }
        return { path: candidate, real, link: stat.isSymbolicLink() };
      }
    }
    if (dir === repoRoot) break;
    dir = dirname(dir);
  }
  return undefined;
}

function addTree(repoRoot: string, dir: string, into: Set<string>) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (!SKIP_DIR.has(entry.name)) addTree(repoRoot, path, into);
    } else if (entry.isFile() && !SKIP_FILE.test(entry.name)) {
      into.add(relative(repoRoot, path));
    }
  }
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
  const collected = collectRelayFiles(repoRoot);
  const deployDir = join(repoRoot, "deploy");
  // Generated into the release next to the repo paths.
  const generated: { path: string; source: string; mode: number }[] = [
    {
      path: "bin/edgesocks-relay-launch",
      source: join(deployDir, "bin", "edgesocks-relay-launch"),
      mode: 0o755,
    },
    {
      path: "bin/edgesocks-relay-supervise",
      source: join(deployDir, "bin", "edgesocks-relay-supervise"),
      mode: 0o755,
    },
    {
      path: "systemd/edgesocks-relay.service",
      source: join(deployDir, "systemd", "edgesocks-relay.service"),
      mode: 0o644,
    },
    {
      path: "systemd/edgesocks.sysusers.conf",
      source: join(deployDir, "systemd", "edgesocks.sysusers.conf"),
      mode: 0o644,
    },
  ];
  const hash = createHash("sha256");
  hash.update(`runtime ${runtime.id}\n`);
  for (const file of collected.files) {
    const path = join(repoRoot, file);
    const exec = (lstatSync(path).mode & 0o111) !== 0 ? "x" : "-";
    hash.update(`F ${file} ${exec} ${sha256File(path)}\n`);
  }
  for (const link of collected.links) hash.update(`L ${link.path} ${link.target}\n`);
  for (const file of generated) hash.update(`G ${file.path} ${sha256File(file.source)}\n`);
  const relayVersion = (
    JSON.parse(readFileSync(join(repoRoot, "apps", "relay", "package.json"), "utf8")) as {
      version: string;
    }
  ).version;
  const version = `${relayVersion}-${hash.digest("hex").slice(0, 12)}`;
  const manifest: ReleaseManifest = {
    name: "edgesocks-relay",
    version,
    relayVersion,
    runtime: runtimeInfo(runtime.id),
    files: collected.files.length + generated.length,
  };
  const tarball = join(cacheDir, `edgesocks-relay-${version}.tar.gz`);
  if (!existsSync(tarball)) {
    const stage = join(cacheDir, `stage-${version}`);
    rmSync(stage, { recursive: true, force: true });
    for (const file of collected.files) {
      const to = join(stage, file);
      mkdirSync(dirname(to), { recursive: true });
      copyFileSync(join(repoRoot, file), to);
      chmodSync(to, (lstatSync(join(repoRoot, file)).mode & 0o111) !== 0 ? 0o755 : 0o644);
    }
    for (const link of collected.links) {
      mkdirSync(dirname(join(stage, link.path)), { recursive: true });
      symlinkSync(link.target, join(stage, link.path));
    }
    for (const file of generated) {
      mkdirSync(dirname(join(stage, file.path)), { recursive: true });
      copyFileSync(file.source, join(stage, file.path));
      chmodSync(join(stage, file.path), file.mode);
    }
    // releases/<version>/node → the runtime unpacked beside the releases.
    symlinkSync(`../../runtimes/${runtime.id}`, join(stage, "node"));
    writeFileSync(join(stage, "release.json"), `${JSON.stringify(manifest, null, 2)}\n`);
    await packDirectory(stage, tarball);
    rmSync(stage, { recursive: true, force: true });
  }
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
