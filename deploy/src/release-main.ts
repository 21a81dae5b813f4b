import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { DeployError } from "./errors";
import { buildImageTree } from "./image-tree";
import { assertPackageVersion, buildPackages } from "./packages";
import { type App, buildReleaseTree, pinnedNode } from "./release-build";

const HELP = `npm run build:release [-- --out DIR]
npm run package [-- --out DIR --version V]
npm run build:image [-- --out DIR]

build:release  bundles edgesocks-relay, edgesocks-control and edgesocksctl ahead of
               time into DIR/release/{relay,control} with the pinned Node 24 runtime.
package        also builds DIR/edgesocks-{relay,control}_<version>_amd64.deb and
               DIR/edgesocks-{relay,control}-<version>-1.x86_64.rpm.
build:image    the release, laid out as the container images' files in
               DIR/image/{relay,control} (what deploy/docker/Dockerfile copies).

Options:
  --out DIR       output directory (default dist/)
  --version V     package version (default: the apps' package.json version)
  --no-rpm        skip the .rpm files (rpmbuild missing)
  -h, --help      this help
See docs/deployment.md.`;

const REPO_ROOT = resolve(import.meta.dirname, "..", "..");

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  let values: { out?: string; version?: string; "no-rpm"?: boolean; help?: boolean };
  try {
    ({ values } = parseArgs({
      args: rest,
      options: {
        out: { type: "string" },
        version: { type: "string" },
        "no-rpm": { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
    }));
  } catch (cause) {
    throw new DeployError("DEPLOY_E_CLI", `${(cause as Error).message} (see --help)`, { cause });
  }
  if (values.help || command === undefined || command === "--help" || command === "-h") {
    process.stdout.write(`${HELP}\n`);
    return command === undefined ? 2 : 0;
  }
  if (command !== "release" && command !== "package" && command !== "image") {
    throw new DeployError("DEPLOY_E_CLI", `unknown command ${command} (release | package | image)`);
  }
  if (values.version !== undefined) assertPackageVersion(values.version);
  const out = resolve(values.out ?? join(REPO_ROOT, "dist"));
  const nodeBinary = pinnedNode(REPO_ROOT);
  let version = "";
  for (const app of ["relay", "control"] as App[]) {
    const tree = await buildReleaseTree({
      repoRoot: REPO_ROOT,
      app,
      outDir: join(out, "release", app),
      nodeBinary,
    });
    version = values.version ?? tree.version;
    process.stdout.write(
      `release ${app} ${tree.version}: ${tree.dir} (${tree.files.length} files)\n`,
    );
  }
  if (command === "release") return 0;
  if (command === "image") {
    const image = buildImageTree({
      repoRoot: REPO_ROOT,
      releaseDir: join(out, "release"),
      outDir: join(out, "image"),
      version,
    });
    process.stdout.write(`image tree ${image.dir}\n`);
    return 0;
  }
  const built = await buildPackages({
    repoRoot: REPO_ROOT,
    releaseDir: join(out, "release"),
    outDir: out,
    ...(values.version ? { version: values.version } : {}),
    rpm: values["no-rpm"] !== true,
  });
  for (const file of built) process.stdout.write(`package ${file}\n`);
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    const usage = error instanceof DeployError && error.code === "DEPLOY_E_CLI";
    process.stderr.write(`package: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(usage ? 2 : 1);
  },
);
