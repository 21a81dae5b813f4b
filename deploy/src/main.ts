import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { buildRelease, type Release, readBundleManifest } from "./bundle";
import { ControlApi } from "./control-api";
import { DeployError } from "./errors";
import { type Inventory, loadInventory } from "./inventory";
import { type HostReport, rollout } from "./rollout";

const HELP = `npm run deploy -- --inventory FILE [options]

Rolls the relay out to every host of the inventory: regions in file order,
one host at a time; a host that fails its health check is rolled back to its
previous release and the rollout stops. Re-running with nothing changed
changes nothing. See docs/deployment.md.

Options:
  --inventory FILE   the fleet (TOML; deploy/inventory.example.toml shows every key)
  --dry-run          print what each host needs and change nothing
  --only REGION      only these regions (repeat, or comma-separated)
  --bundle FILE      deploy this prebuilt release (from --build-only) instead of building
  --build-only       build the release bundle, print its path and version, and exit
  --cache-dir DIR    where bundles are built (default node_modules/.cache/edgesocks-deploy)
  -h, --help         this help

Environment: the admin token in the variable named by control.token_env (EDGESOCKS_TOKEN).
Exit codes: 0 done, 1 a host failed (see the report), 2 bad flags or inventory.`;

const REPO_ROOT = resolve(import.meta.dirname, "..", "..");

async function main(argv: string[]): Promise<number> {
  let values: Record<string, string | boolean | string[] | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv,
      allowPositionals: false,
      options: {
        inventory: { type: "string" },
        "dry-run": { type: "boolean" },
        only: { type: "string", multiple: true },
        bundle: { type: "string" },
        "build-only": { type: "boolean" },
        "cache-dir": { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    }));
  } catch (cause) {
    throw new DeployError("DEPLOY_E_CLI", `${(cause as Error).message} (see --help)`, { cause });
  }
  if (values.help) {
    process.stdout.write(`${HELP}\n`);
    return 0;
  }
  const cacheDir = resolve(
    (values["cache-dir"] as string | undefined) ??
      join(REPO_ROOT, "node_modules", ".cache", "edgesocks-deploy"),
  );
  if (values["build-only"]) {
    const release = await buildRelease({ repoRoot: REPO_ROOT, cacheDir });
    process.stdout.write(
      `version=${release.version}\nbundle=${release.tarball}\nruntime=${release.runtime.tarball}\n`,
    );
    return 0;
  }
  const inventoryPath = values.inventory as string | undefined;
  if (!inventoryPath)
    throw new DeployError("DEPLOY_E_CLI", "--inventory FILE is required (see --help)");
  const inventory = filterRegions(
    loadInventory(inventoryPath),
    (values.only as string[] | undefined) ?? [],
  );
  const dryRun = values["dry-run"] === true;

  const startedMs = Date.now();
  const log = (line: string) =>
    process.stdout.write(
      `${line === "" ? "" : `+${((Date.now() - startedMs) / 1000).toFixed(1).padStart(5)}s `}${line}\n`,
    );
  const release = values.bundle
    ? await prebuilt(values.bundle as string, cacheDir)
    : await buildRelease({ repoRoot: REPO_ROOT, cacheDir });
  log(`release ${release.version} (runtime ${release.runtime.id})`);
  log(`control plane ${inventory.control.url}; relays connect to ${inventory.control.relayUrl}`);

  let api: ControlApi | null = null;
  try {
    api = new ControlApi({ url: inventory.control.url, token: inventory.control.token() });
    await api.listNodes();
  } catch (error) {
    if (!dryRun) throw error;
    log(`(control plane not consulted: ${(error as Error).message}; enrollment shown as if new)`);
    api = null;
  }
  const order = inventory.regions.map(
    (r) => `${r.name} (${r.hosts.map((h) => h.name).join(", ")})`,
  );
  log(`${dryRun ? "plan" : "rollout"}: ${order.join(" → ")}`);
  const reports = await rollout({ inventory, release, api, dryRun, log });
  log("");
  log(formatReport(reports, dryRun));
  return reports.some((r) => r.action === "failed" || r.action === "rolled-back") ? 1 : 0;
}

function filterRegions(inventory: Inventory, only: string[]): Inventory {
  const wanted = only
    .flatMap((o) => o.split(","))
    .map((o) => o.trim())
    .filter(Boolean);
  if (wanted.length === 0) return inventory;
  const known = new Set(inventory.regions.map((r) => r.name));
  for (const name of wanted) {
    if (!known.has(name)) {
      throw new DeployError(
        "DEPLOY_E_CLI",
        `--only ${name}: no such region in ${inventory.path} (${[...known].join(", ")})`,
      );
    }
  }
  return { ...inventory, regions: inventory.regions.filter((r) => wanted.includes(r.name)) };
}

/** A release built earlier (`--build-only`, a CI artifact); its runtime must be in the cache. */
async function prebuilt(bundle: string, cacheDir: string): Promise<Release> {
  const manifest = await readBundleManifest(bundle);
  let runtimeTarball = join(cacheDir, `${manifest.runtime.id}.tar.gz`);
  if (!existsSync(runtimeTarball)) {
    const built = await buildRelease({ repoRoot: REPO_ROOT, cacheDir });
    if (built.runtime.id !== manifest.runtime.id) {
      throw new DeployError(
        "DEPLOY_E_BUNDLE",
        `${bundle} needs runtime ${manifest.runtime.id}, this checkout has ${built.runtime.id}`,
      );
    }
    runtimeTarball = built.runtime.tarball;
  }
  return {
    version: manifest.version,
    tarball: resolve(bundle),
    runtime: { id: manifest.runtime.id, tarball: runtimeTarball },
    manifest,
  };
}

export function formatReport(reports: HostReport[], dryRun: boolean): string {
  const rows = reports.map((r) => [
    r.region,
    r.host,
    dryRun && r.action === "deployed" ? "would change" : r.action,
    r.from ?? "-",
    `${(r.durationMs / 1000).toFixed(1)}s`,
    r.detail,
  ]);
  const header = ["REGION", "HOST", "RESULT", "WAS", "TOOK", "DETAIL"];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join("  ");
  const failed = reports.find((r) => r.action === "failed" || r.action === "rolled-back");
  const summary = failed
    ? `ROLLOUT STOPPED at ${failed.region}/${failed.host}: ${failed.action}. Hosts after it were not touched.`
    : dryRun
      ? "DRY RUN: nothing was changed."
      : "ROLLOUT COMPLETE.";
  return [line(header), ...rows.map(line), "", summary].join("\n");
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    const usage =
      error instanceof DeployError && ["DEPLOY_E_CLI", "DEPLOY_E_INVENTORY"].includes(error.code);
    process.stderr.write(`deploy: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(usage ? 2 : 1);
  },
);
