import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startControl } from "./support/fleet";
import { freePort } from "./support/ports";
import { type ManagedProcess, startProcess, waitForHttp } from "./support/processes";

const ROOT = resolve(import.meta.dirname, "..");
const RELAY_BIN = join(ROOT, "apps/relay/bin/edgesocks-relay.mjs");
const DASHBOARD = join(ROOT, "deploy/grafana/edgesocks-fleet.json");
const ALERTS = join(ROOT, "deploy/prometheus/alerts.yml");
const OPERATIONS = join(ROOT, "docs/operations.md");
/** The documented placeholder that deploys replace with where their runbooks are served. */
const RUNBOOK_BASE = "https://runbooks.edgesocks.invalid";

/**
 * Families that need no panel of ours: prom-client's process and Node.js defaults (the dashboard
 * shows the few that matter through explicit queries: resident memory, event loop lag, start
 * time), kept here by prefix so a new default does not fail the test.
 */
const EXEMPT_PREFIXES = ["edgesocks_process_", "edgesocks_nodejs_"];

interface Scrape {
  families: Map<string, string>;
  text: string;
}

async function scrape(url: string): Promise<Scrape> {
  const text = await (await fetch(url)).text();
  const families = new Map(
    [...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => [m[1]!, m[2]!] as const),
  );
  return { families, text };
}

/** Every expression of every panel (rows' nested panels too). */
function panelExpressions(): string[] {
  interface Panel {
    targets?: { expr?: string }[];
    panels?: Panel[];
  }
  const dashboard = JSON.parse(readFileSync(DASHBOARD, "utf8")) as { panels: Panel[] };
  const walk = (panels: Panel[]): string[] =>
    panels.flatMap((p) => [...(p.targets ?? []).map((t) => t.expr ?? ""), ...walk(p.panels ?? [])]);
  return walk(dashboard.panels);
}

/** A family is on a panel when an expression names it (histograms by _bucket/_sum/_count). */
const onPanel = (family: string, exprs: readonly string[]) =>
  exprs.some((e) => new RegExp(`\\b${family}(_bucket|_sum|_count|_total)?\\b`).test(e));

let dir: string;
let control: Awaited<ReturnType<typeof startControl>>;
let relay: ManagedProcess;
let relayOps: string;
let certPath: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "edgesocks-obs-"));
  control = await startControl({
    name: "obs-control",
    dbPath: join(dir, "control.db"),
    host: "127.0.0.1",
  });
  const { enrollmentToken } = await control.api.nodes.enroll.mutate({
    name: "obs-1",
    region: "eu-west",
  });
  certPath = join(dir, "cert.pem");
  execFileSync(
    "openssl",
    [
      ...["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"],
      ...[
        "-keyout",
        join(dir, "key.pem"),
        "-out",
        certPath,
        "-days",
        "10",
        "-subj",
        "/CN=localhost",
      ],
    ],
    { stdio: "pipe" },
  );
  writeFileSync(
    join(dir, "relay.toml"),
    `[server.tls]\nenabled = true\nbind_port = 0\ncertificate_path = "cert.pem"\nprivate_key_path = "key.pem"\n`,
  );
  writeFileSync(join(dir, "token"), enrollmentToken);
  const opsPort = await freePort();
  relayOps = `http://127.0.0.1:${opsPort}`;
  relay = startProcess({
    name: "obs-relay",
    command: process.execPath,
    args: [
      ...[
        RELAY_BIN,
        "--config",
        join(dir, "relay.toml"),
        "--control-url",
        `ws://127.0.0.1:${control.port}/trpc`,
      ],
      ...["--node-token-file", join(dir, "token"), "--region", "eu-west", "--name", "obs-1"],
      ...[
        "--state-dir",
        join(dir, "state"),
        "--bind",
        "127.0.0.1",
        "--port",
        String(await freePort()),
      ],
      ...["--ops-bind", `127.0.0.1:${opsPort}`, "--workers", "2"],
      ...(process.getuid?.() === 0 ? ["--allow-root"] : []),
    ],
  });
  await Promise.race([
    waitForHttp(`${relayOps}/ready`, 30_000),
    relay.exited.then((code) => {
      throw new Error(`relay exited with ${code}: ${relay.output().slice(-2000)}`);
    }),
  ]);
});

afterAll(async () => {
  await relay?.stop();
  await control?.process.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("observability: every exported metric family is on the dashboard", () => {
  it("scrapes a real relay and control plane; each family (bar process/nodejs defaults) has a panel", async () => {
    const [relayScrape, controlScrape] = await Promise.all([
      scrape(`${relayOps}/metrics`),
      scrape(`${control.url}/metrics`),
    ]);
    const exprs = panelExpressions();
    const families = [...relayScrape.families.keys(), ...controlScrape.families.keys()];
    expect(families.filter((f) => f.startsWith("edgesocks_relay_")).length).toBeGreaterThan(25);
    expect(families.filter((f) => f.startsWith("edgesocks_control_")).length).toBeGreaterThan(10);
    const missing = families.filter(
      (f) => !EXEMPT_PREFIXES.some((p) => f.startsWith(p)) && !onPanel(f, exprs),
    );
    expect(missing).toEqual([]);
  });

  it("exports build info once per process (not per thread) and the TLS certificate expiry", async () => {
    const [relayScrape, controlScrape] = await Promise.all([
      scrape(`${relayOps}/metrics`),
      scrape(`${control.url}/metrics`),
    ]);
    const node = process.version.replace(/\./g, "\\.");
    expect(relayScrape.text).toMatch(
      new RegExp(
        `^edgesocks_relay_build_info\\{version="\\d+\\.\\d+\\.\\d+",commit="[^"]+",node_version="${node}"\\} 1$`,
        "m",
      ),
    );
    expect(controlScrape.text).toMatch(
      new RegExp(
        `^edgesocks_control_build_info\\{version="\\d+\\.\\d+\\.\\d+",commit="[^"]+",node_version="${node}"\\} 1$`,
        "m",
      ),
    );
    const expiry = new RegExp(
      `^edgesocks_relay_tls_certificate_expiry_seconds\\{certificate="server",path="${certPath}"\\} (\\d+)$`,
      "m",
    ).exec(relayScrape.text);
    expect(expiry).not.toBeNull();
    // Two threads, each with the certificate: the minimum, not the sum (10 days = 864000 s).
    expect(Number(expiry![1])).toBeGreaterThan(864_000 - 3600);
    expect(Number(expiry![1])).toBeLessThanOrEqual(864_000);
  });
});

describe("observability: alert rules", () => {
  it("pass promtool check rules and the rule unit tests", () => {
    const checked = spawnSync("promtool", ["check", "rules", ALERTS], { encoding: "utf8" });
    expect(checked.error).toBeUndefined();
    expect(checked.stdout + checked.stderr).toContain("SUCCESS");
    expect(checked.status).toBe(0);
    const tested = spawnSync(
      "promtool",
      ["test", "rules", join(ROOT, "deploy/prometheus/alerts.test.yml")],
      {
        encoding: "utf8",
        cwd: join(ROOT, "deploy/prometheus"),
      },
    );
    expect(tested.stdout + tested.stderr).toContain("SUCCESS");
    expect(tested.status).toBe(0);
  });

  it("every alert has an absolute runbook_url whose anchor is a heading of docs/operations.md", () => {
    const text = readFileSync(ALERTS, "utf8");
    const alerts = [...text.matchAll(/- alert: (\w+)[\s\S]*?(?=\n\s+- alert:|\n\s*- name:|$)/g)];
    expect(alerts.length).toBeGreaterThan(20);
    const anchors = new Set(
      [...readFileSync(OPERATIONS, "utf8").matchAll(/^#+ (.+)$/gm)].map((m) =>
        m[1]!
          .trim()
          .toLowerCase()
          .replace(/[^\w\- ]/g, "")
          .replace(/ /g, "-"),
      ),
    );
    for (const [block, name] of alerts) {
      const url = /runbook_url: "([^"]+)"/.exec(block)?.[1];
      expect({ name, url }).toEqual({ name, url: expect.stringMatching(/^https:\/\//) });
      expect(url!.startsWith(`${RUNBOOK_BASE}/operations.md#`), `${name}: ${url}`).toBe(true);
      const anchor = url!.split("#")[1]!;
      expect(anchors.has(anchor), `${name}: #${anchor} is no heading of docs/operations.md`).toBe(
        true,
      );
    }
  });
});

describe("observability: Kubernetes PodMonitors", () => {
  const k8s = (file: string) => readFileSync(join(ROOT, "deploy/k8s", file), "utf8");
  /** Prometheus' meta label for a pod label: non-alphanumerics become `_`. */
  const metaLabel = (label: string) =>
    `__meta_kubernetes_pod_label_${label.replace(/[^\w]/g, "_")}`;

  it("give relays and control plane the job names and region label the dashboard and alerts use", () => {
    const monitors = k8s("monitoring/podmonitors.yaml").split(/^---$/m);
    const byName = new Map(monitors.map((m) => [/^ {2}name: (\S+)$/m.exec(m)?.[1], m] as const));
    const used = new Set(
      [readFileSync(ALERTS, "utf8"), readFileSync(DASHBOARD, "utf8")].flatMap((text) =>
        [...text.matchAll(/job=\\?"([\w-]+)\\?"/g)].map((m) => m[1]!),
      ),
    );
    expect([...used].sort()).toEqual(["edgesocks-control", "edgesocks-relay"]);
    const pods = { "edgesocks-relay": k8s("relay.yaml"), "edgesocks-control": k8s("control.yaml") };
    for (const [job, manifest] of Object.entries(pods)) {
      const monitor = byName.get(job);
      expect(monitor, job).toBeDefined();
      expect(monitor).toMatch(new RegExp(`targetLabel: job\\n\\s+replacement: ${job}\\n`));
      // The endpoint port is a named container port of the pods it selects.
      const port = /- port: (\S+)/.exec(monitor!)![1]!;
      expect(manifest).toMatch(new RegExp(`name: ${port}, containerPort: \\d+`));
      expect(monitor).toContain(`matchLabels: { app.kubernetes.io/name: ${job} }`);
    }
    // region: from the relay pods' edgesocks.io/region label, which kustomize copies from the
    // ConfigMap's region.
    const relay = byName.get("edgesocks-relay")!;
    const source = /sourceLabels: \[(\S+)\]\n\s+targetLabel: region/.exec(relay)?.[1];
    expect(source).toBe(metaLabel("edgesocks.io/region"));
    expect(pods["edgesocks-relay"]).toMatch(/labels: \{[^}]*edgesocks\.io\/region: [\w-]+ \}/);
    expect(k8s("kustomization.yaml")).toContain(
      `fieldPaths: ["spec.template.metadata.labels.[edgesocks.io/region]"]`,
    );
    expect(k8s("kustomization.yaml")).toContain("fieldPath: data.region");
  });
});
