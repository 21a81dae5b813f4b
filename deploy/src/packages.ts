import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { gzipSync } from "node:zlib";
import { DeployError } from "./errors";
import { layoutPackage, PACKAGES, type PackageSpec, put } from "./package-layout";
import { type App, listFiles } from "./release-build";

const exec = promisify(execFile);
const MAINTAINER = "EdgeSocks maintainers <maintainers@edgesocks.invalid>";
/** Run-time needs of the bundled Node binary and native modules (glibc 2.28+, libstdc++). */
const DEB_DEPENDS =
  "libc6 (>= 2.28), libgcc-s1, libstdc++6, init-system-helpers (>= 1.54~), passwd";
const RPM_REQUIRES = "glibc >= 2.28, libstdc++, shadow-utils, systemd";

export interface PackageOptions {
  repoRoot: string;
  /** Holds `relay/` and `control/` release trees (buildReleaseTree). */
  releaseDir: string;
  outDir: string;
  /** @default the app's package.json version */
  version?: string;
  /** Which packages. @default both */
  apps?: App[];
  /** Build the .rpm files too (needs rpmbuild). @default true */
  rpm?: boolean;
  /** gzip level of the payloads, 1 (fast, for tests) to 9. @default 9 */
  compressLevel?: number;
}

/** Builds the .deb (and .rpm) of each app; returns the files written. */
export async function buildPackages(options: PackageOptions): Promise<string[]> {
  const written: string[] = [];
  mkdirSync(options.outDir, { recursive: true });
  for (const app of options.apps ?? (["relay", "control"] as App[])) {
    const spec = PACKAGES[app];
    const version =
      options.version ??
      (
        JSON.parse(
          readFileSync(join(options.releaseDir, app, "apps", app, "package.json"), "utf8"),
        ) as {
          version: string;
        }
      ).version;
    assertPackageVersion(version);
    const stage = join(options.outDir, `.stage-${spec.name}`);
    rmSync(stage, { recursive: true, force: true });
    const root = join(stage, "root");
    layoutPackage({
      repoRoot: options.repoRoot,
      spec,
      releaseDir: join(options.releaseDir, app),
      root,
      version,
      system: true,
    });
    addDocs(options.repoRoot, spec, root, version);
    const level = options.compressLevel ?? 9;
    written.push(await buildDeb({ spec, root, version, outDir: options.outDir, level }));
    if (options.rpm !== false) {
      written.push(await buildRpm({ spec, root, stage, version, outDir: options.outDir, level }));
    }
    rmSync(stage, { recursive: true, force: true });
  }
  return written;
}

/** dpkg and rpm both accept this shape; rpm forbids `-` in a version. */
export function assertPackageVersion(version: string): void {
  if (!/^[0-9][0-9A-Za-z.+~]*$/.test(version)) {
    throw new DeployError(
      "DEPLOY_E_CLI",
      `--version ${version}: a package version is digits, letters, . + ~ (no -)`,
    );
  }
}

function addDocs(repoRoot: string, spec: PackageSpec, root: string, version: string) {
  const doc = join(root, "usr", "share", "doc", spec.name);
  put(join(doc, "copyright"), copyright(), 0o644);
  const date = new Date().toUTCString().replace("GMT", "+0000");
  const changelog = `${spec.name} (${version}) unstable; urgency=medium\n\n  * Release ${version}; see the repository's history.\n\n -- ${MAINTAINER}  ${date}\n`;
  put(join(doc, "changelog.gz"), gzipSync(changelog, { level: 9 }), 0o644);
  put(
    join(root, "usr", "share", "lintian", "overrides", spec.name),
    readFileSync(
      join(repoRoot, "deploy", "package", "debian", "lintian-overrides"),
      "utf8",
    ).replaceAll("@PACKAGE@", spec.name),
    0o644,
  );
}

function copyright(): string {
  return `Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: EdgeSocks

Files: *
Copyright: 2025-2026 EdgeSocks authors
License: EdgeSocks
 Proprietary: no license is granted beyond running the software as distributed.

Files: usr/lib/*/node/*
Copyright: Node.js contributors and other Node.js authors, 2009-2026
License: Expat
 The Node.js runtime; its full notice: https://github.com/nodejs/node/blob/main/LICENSE
`;
}

function fill(template: string, spec: PackageSpec): string {
  return template
    .replaceAll("@PACKAGE@", spec.name)
    .replaceAll("@UNIT@", `${spec.name}.service`)
    .replaceAll("@SYSUSERS@", `/usr/lib/sysusers.d/${spec.name}.conf`)
    .replaceAll("@STATE_DIR@", spec.stateDir)
    .replaceAll("@SECRETS@", spec.secrets.map((s) => `'${s}'`).join(" ") || "''")
    .replaceAll("@CONFIGURED@", spec.configured)
    .replaceAll("@NOT_CONFIGURED@", spec.notConfigured);
}

async function run(file: string, args: string[], what: string): Promise<string> {
  try {
    return (await exec(file, args, { maxBuffer: 16 << 20 })).stdout;
  } catch (cause) {
    const error = cause as Error & { stderr?: string };
    throw new DeployError("DEPLOY_E_BUNDLE", `${what}: ${error.stderr?.trim() || error.message}`, {
      cause,
    });
  }
}

interface Build {
  spec: PackageSpec;
  root: string;
  version: string;
  outDir: string;
  level: number;
}

async function buildDeb({ spec, root, version, outDir, level }: Build): Promise<string> {
  const files = listFiles(root);
  const installedKiB = Math.ceil(
    files.reduce((sum, f) => sum + statSync(join(root, f)).size, 0) / 1024,
  );
  const control = [
    `Package: ${spec.name}`,
    `Version: ${version}`,
    "Architecture: amd64",
    `Maintainer: ${MAINTAINER}`,
    `Installed-Size: ${installedKiB}`,
    `Depends: ${DEB_DEPENDS}`,
    "Recommends: systemd",
    "Section: net",
    "Priority: optional",
    `Description: ${spec.summary}`,
    ...spec.description.split("\n").map((line) => ` ${line}`),
    "",
  ].join("\n");
  const debian = join(root, "DEBIAN");
  put(join(debian, "control"), control, 0o644);
  put(join(debian, "conffiles"), `${spec.conffile.path}\n`, 0o644);
  for (const script of ["postinst", "prerm", "postrm"]) {
    const template = readFileSync(
      join(import.meta.dirname, "..", "package", "debian", script),
      "utf8",
    );
    put(join(debian, script), fill(template, spec), 0o755);
  }
  const md5 = files
    .filter((f) => `/${f}` !== spec.conffile.path)
    .map(
      (f) =>
        `${createHash("md5")
          .update(readFileSync(join(root, f)))
          .digest("hex")}  ${f}\n`,
    )
    .join("");
  put(join(debian, "md5sums"), md5, 0o644);
  const out = join(outDir, `${spec.name}_${version}_amd64.deb`);
  await run(
    "dpkg-deb",
    ["--root-owner-group", "-Zgzip", `-z${level}`, "--build", root, out],
    `dpkg-deb ${spec.name}`,
  );
  rmSync(debian, { recursive: true, force: true });
  return out;
}

async function buildRpm({
  spec,
  root,
  version,
  outDir,
  level,
  stage,
}: Build & { stage: string }): Promise<string> {
  const unit = `${spec.name}.service`;
  const specFile = join(stage, `${spec.name}.spec`);
  const scripts = (name: string) =>
    readFileSync(join(import.meta.dirname, "..", "package", "rpm", name), "utf8");
  writeFileSync(
    specFile,
    `Name: ${spec.name}
Version: ${version}
Release: 1
Summary: ${spec.summary}
License: Proprietary
BuildArch: x86_64
AutoReqProv: no
Requires: ${RPM_REQUIRES}
Requires(pre): shadow-utils

%description
${spec.description}

%install
cp -a ${root}/. %{buildroot}/
rm -rf %{buildroot}/usr/share/lintian

%pre
${fill(scripts("pre"), spec)}
%post
${fill(scripts("post"), spec)}
%preun
${fill(scripts("preun"), spec)}
%postun
${fill(scripts("postun"), spec)}

%files
%config(noreplace) ${spec.conffile.path}
%dir /etc/edgesocks
/usr/lib/${spec.name}
${spec.commands.map((c) => `/usr/bin/${c.name}`).join("\n")}
/usr/lib/systemd/system/${unit}
/usr/lib/sysusers.d/${spec.name}.conf
%doc /usr/share/doc/${spec.name}
`,
  );
  await run(
    "rpmbuild",
    [
      "-bb",
      "--quiet",
      "--target",
      "x86_64-linux",
      "--define",
      `_topdir ${join(stage, "rpmbuild")}`,
      "--define",
      `_rpmdir ${outDir}`,
      "--define",
      "_rpmfilename %%{NAME}-%%{VERSION}-%%{RELEASE}.%%{ARCH}.rpm",
      "--define",
      `_binary_payload w${level}.gzdio`,
      "--define",
      "debug_package %{nil}",
      "--define",
      "__os_install_post %{nil}",
      "--define",
      "_build_id_links none",
      specFile,
    ],
    `rpmbuild ${spec.name}`,
  );
  return join(outDir, `${spec.name}-${version}-1.x86_64.rpm`);
}
