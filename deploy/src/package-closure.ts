import { lstatSync, readdirSync, readFileSync, realpathSync } from "node:fs";
import { basename, dirname, join, relative, sep } from "node:path";
import { DeployError } from "./errors";

/** Packages only needed for type checking, never loaded at run time. */
const TYPE_ONLY = new Set(["typescript"]);
/** Files no running app reads. */
const SKIP_FILE = /(\.d\.[cm]?ts|\.map|\.md|\.test\.ts)$/;
const SKIP_DIR = new Set(["node_modules", "test-support", ".turbo", "test", "__tests__"]);

/**
 * The files of npm packages (resolved from the repo root) and of everything
 * they depend on, at their paths in the repo (so Node resolves them the same
 * way next to a bundle), sorted.
 */
export function collectPackageFiles(repoRoot: string, names: string[]): string[] {
  return walk(
    repoRoot,
    names.map((name) => {
      const found = resolvePackage(repoRoot, repoRoot, name);
      if (!found) {
        throw new DeployError("DEPLOY_E_BUNDLE", `${name} is not installed (run npm ci)`);
      }
      return { dir: found.real };
    }),
  );
}

function walk(repoRoot: string, queue: { dir: string }[]): string[] {
  const files = new Set<string>();
  const seen = new Set<string>();
  while (queue.length > 0) {
    const { dir } = queue.shift()!;
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
    const wanted = new Set([
      ...Object.keys(pkg.dependencies ?? {}),
      ...Object.keys(pkg.optionalDependencies ?? {}),
      ...Object.keys(pkg.peerDependencies ?? {}).filter((name) => !TYPE_ONLY.has(name)),
    ]);
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
      queue.push({ dir: found.real });
    }
  }
  return [...files].sort();
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
        // A link is a workspace package: its files would land at the wrong path; bundle it instead.
        if (stat.isSymbolicLink()) {
          throw new DeployError(
            "DEPLOY_E_BUNDLE",
            `${candidate} is a workspace link, not an npm package`,
          );
        }
        return { real };
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
