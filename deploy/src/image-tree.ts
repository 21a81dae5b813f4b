import { mkdirSync, rmSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { layoutPackage, PACKAGES } from "./package-layout";
import type { App } from "./release-build";

export interface ImageTreeOptions {
  repoRoot: string;
  /** Holds `relay/` and `control/` release trees (buildReleaseTree). */
  releaseDir: string;
  /** Emptied, then gets `relay/` and `control/`: each the file system an image adds. */
  outDir: string;
  version: string;
}

/**
 * The container images' files, laid out without a container engine:
 * deploy/docker/Dockerfile copies `<outDir>/<app>/` onto its base image, and
 * e2e/package.test.ts checks the same trees. The layout is the packages'
 * (/usr/lib/<name>, /usr/bin, /etc/edgesocks), without systemd's files.
 */
export function buildImageTree(options: ImageTreeOptions): { dir: string } {
  rmSync(options.outDir, { recursive: true, force: true });
  for (const app of ["relay", "control"] as App[]) {
    const spec = PACKAGES[app];
    const root = join(options.outDir, app);
    layoutPackage({
      repoRoot: options.repoRoot,
      spec,
      releaseDir: join(options.releaseDir, app),
      root,
      version: options.version,
      system: false,
    });
    mkdirSync(join(root, spec.stateDir), { recursive: true });
    // `node` on PATH for health checks and init containers (deploy/k8s); the base image has none.
    mkdirSync(join(root, "usr", "local", "bin"), { recursive: true });
    symlinkSync(`/usr/lib/${spec.name}/node/bin/node`, join(root, "usr", "local", "bin", "node"));
  }
  return { dir: options.outDir };
}
