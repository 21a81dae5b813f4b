import { execFile, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildImageTree } from "../deploy/src/image-tree";
import { buildPackages } from "../deploy/src/packages";
import { buildReleaseTree, listFiles, pinnedNode } from "../deploy/src/release-build";
import { bootContainer, type Container, containerUnavailable } from "./support/container";
import { freePort } from "./support/ports";

/**
 * The packages for real: `npm run package`'s code builds the .deb files, a
 * fresh Debian system booted by systemd-nspawn (its own network namespace)
 * installs them with dpkg, and systemd runs the services as the units say:
 * the control plane, then a relay that enrolls, relays a curl, keeps its
 * spool and node token through an upgrade, stops on remove and leaves
 * nothing on purge. The .rpm is built and inspected (rpm -qp); installing an
 * rpm needs an rpm-based system, which a Debian host cannot boot from its
 * own files.
 */

const ROOT = resolve(import.meta.dirname, "..");
const exec = promisify(execFile);
const unavailable = containerUnavailable();
if (unavailable) console.warn(`e2e/package.test.ts: container tests skipped: ${unavailable}`);

let dir: string;
let v1: { relay: string; control: string };
let v2Relay: string;
let rpm: string;

beforeAll(async () => {
  dir = mkdtempSync("/tmp/esp-e2e-");
  const nodeBinary = pinnedNode(ROOT);
  for (const app of ["relay", "control"] as const) {
    await buildReleaseTree({ repoRoot: ROOT, app, outDir: join(dir, "release", app), nodeBinary });
  }
  const common = { repoRoot: ROOT, releaseDir: join(dir, "release"), compressLevel: 1 };
  const [relayDeb, relayRpm, controlDeb] = await buildPackages({
    ...common,
    outDir: join(dir, "v1"),
  });
  v1 = { relay: relayDeb!, control: controlDeb! };
  rpm = relayRpm!;
  // The upgrade: the same package with a newer version.
  v2Relay = (
    await buildPackages({
      ...common,
      outDir: join(dir, "v2"),
      version: "0.1.0+e2e2",
      apps: ["relay"],
      rpm: false,
    })
  )[0]!;
}, 240_000);

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("release build", () => {
  it("the bundled relay starts its worker threads from the bundle and relays a curl", async () => {
    const relay = join(dir, "release", "relay");
    const work = join(dir, "standalone");
    mkdirSync(work);
    const [socks, ops, target] = [
      await freePort(),
      await freePort(),
      createServer((_q, r) => r.end("hi\n")),
    ];
    await new Promise<void>((r) => target.listen(0, "127.0.0.1", r));
    writeFileSync(
      join(work, "relay.toml"),
      `[server]\nbind_address = "127.0.0.1"\nbind_port = ${socks}\nworkers = 2\n[ops]\nbind = "127.0.0.1:${ops}"\n[logging]\nformat = "json"\n`,
    );
    const child = spawn(
      join(relay, "node", "bin", "node"),
      [
        join(relay, "apps/relay/bin/edgesocks-relay.mjs"),
        "--config",
        join(work, "relay.toml"),
        "--allow-root",
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    let log = "";
    child.stdout.on("data", (chunk: Buffer) => {
      log += chunk.toString();
    });
    child.stderr.on("data", (chunk: Buffer) => {
      log += chunk.toString();
    });
    try {
      const deadline = Date.now() + 20_000;
      while (!log.includes("relay listening") && Date.now() < deadline && child.exitCode === null) {
        await new Promise((r) => setTimeout(r, 50));
      }
      // The second thread runs apps/relay/bin/shard-worker.mjs; the relay does not listen without it.
      expect(log).toMatch(/"threads":2\b/);
      const url = `http://127.0.0.1:${(target.address() as AddressInfo).port}/`;
      const curl = await exec("curl", [
        "-sS",
        "--max-time",
        "10",
        "--socks5-hostname",
        `127.0.0.1:${socks}`,
        url,
      ]);
      expect(curl.stdout).toBe("hi\n");
    } finally {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once("exit", r));
        child.kill("SIGTERM");
        await exited;
      }
      target.close();
    }
  });
});

describe("package files", () => {
  it("are named as apt and dnf expect", () => {
    expect(v1.relay).toMatch(/\/edgesocks-relay_0\.1\.0_amd64\.deb$/);
    expect(v1.control).toMatch(/\/edgesocks-control_0\.1\.0_amd64\.deb$/);
    expect(v2Relay).toMatch(/\/edgesocks-relay_0\.1\.0\+e2e2_amd64\.deb$/);
    expect(rpm).toMatch(/\/edgesocks-relay-0\.1\.0-1\.x86_64\.rpm$/);
  });

  it("the .deb declares its conffile, scripts and dependencies", async () => {
    const { stdout } = await exec("dpkg-deb", ["--info", v1.relay]);
    expect(stdout).toContain("Package: edgesocks-relay");
    expect(stdout).toMatch(/Depends: .*libc6 \(>= 2\.28\)/);
    for (const script of ["postinst", "prerm", "postrm", "conffiles", "md5sums"]) {
      expect(stdout).toContain(` ${script}`);
    }
    const conffiles = await exec("dpkg-deb", ["--ctrl-tarfile", v1.relay]).then(() =>
      exec("sh", ["-c", `dpkg-deb --ctrl-tarfile '${v1.relay}' | tar -xO ./conffiles`]),
    );
    expect(conffiles.stdout).toBe("/etc/edgesocks/relay.env\n");
  });

  // The relay's .deb only: the control plane's is built by the same code and
  // templates, and lintian takes half this file's run time per package.
  it("lintian finds nothing but the explained overrides", async () => {
    const result = await exec(
      "lintian",
      ["--fail-on", "warning", "--tag-display-limit", "0", v1.relay],
      {
        maxBuffer: 4 << 20,
      },
    ).then(
      (r) => ({ code: 0, out: r.stdout }),
      (e: { code: number; stdout: string }) => ({ code: e.code, out: e.stdout }),
    );
    expect(result).toEqual({ code: 0, out: "" });
  }, 120_000);

  it("the .rpm holds the same tree, a noreplace config file and scripts for each step", async () => {
    const files = (await exec("rpm", ["-qlp", rpm])).stdout.split("\n");
    for (const path of [
      "/usr/bin/edgesocks-relay",
      "/usr/lib/edgesocks-relay/apps/relay/bin/edgesocks-relay.mjs",
      "/usr/lib/edgesocks-relay/apps/relay/bin/shard-worker.mjs",
      "/usr/lib/edgesocks-relay/node/bin/node",
      "/usr/lib/systemd/system/edgesocks-relay.service",
      "/usr/lib/sysusers.d/edgesocks-relay.conf",
      "/etc/edgesocks/relay.env",
    ]) {
      expect(files).toContain(path);
    }
    expect(files.some((f) => f.includes("/usr/share/lintian"))).toBe(false);
    expect((await exec("rpm", ["-qcp", rpm])).stdout).toBe("/etc/edgesocks/relay.env\n");
    const scripts = (await exec("rpm", ["-qp", "--scripts", rpm])).stdout;
    for (const step of ["preinstall", "postinstall", "preuninstall", "postuninstall"]) {
      expect(scripts).toContain(`${step} scriptlet`);
    }
    expect(scripts).toContain("useradd --system");
    expect(scripts).toContain("disable --now edgesocks-relay.service");
    // No automatic dependencies from the bundled binaries: the list is ours.
    const requires = (await exec("rpm", ["-qp", "--requires", rpm])).stdout;
    expect(requires).toContain("glibc >= 2.28");
    expect(requires).not.toMatch(/libnode|\.so\.\d+\(/);
  });

  it("the container image tree has every path the Dockerfile uses, and its relay runs", async () => {
    const imageDir = join(dir, "image");
    buildImageTree({
      repoRoot: ROOT,
      releaseDir: join(dir, "release"),
      outDir: imageDir,
      version: "0.1.0",
    });
    const dockerfile = readFileSync(join(ROOT, "deploy", "docker", "Dockerfile"), "utf8");
    for (const app of ["relay", "control"] as const) {
      const tree = listFiles(join(imageDir, app));
      expect(tree.some((f) => f.startsWith("usr/lib/systemd"))).toBe(false);
      const used = [
        ...dockerfile.matchAll(new RegExp(`/usr/lib/edgesocks-${app}/[\\w./-]+`, "g")),
      ].map((m) => m[0].slice(1));
      expect(used.length).toBeGreaterThan(0);
      for (const path of used)
        expect({ path, found: existsSync(join(imageDir, app, path)) }).toEqual({
          path,
          found: true,
        });
    }
    const control = listFiles(join(imageDir, "control"));
    for (const needed of [
      "usr/lib/edgesocks-control/packages/db/src/write-thread-worker.mjs",
      "usr/lib/edgesocks-control/drizzle/meta/_journal.json",
      "usr/lib/edgesocks-control/node_modules/@libsql/linux-x64-gnu/index.node",
      "usr/lib/edgesocks-control/node_modules/swagger-ui-dist/package.json",
      "usr/bin/edgesocksctl",
    ]) {
      expect(control).toContain(needed);
    }
    const relay = join(imageDir, "relay", "usr", "lib", "edgesocks-relay");
    const version = await exec(join(relay, "node", "bin", "node"), [
      join(relay, "apps/relay/bin/edgesocks-relay.mjs"),
      "--version",
    ]);
    expect(version.stdout.trim()).toContain("0.1.0");
  });
});

describe.skipIf(unavailable !== undefined)(
  "installed with dpkg on a fresh system booted by systemd",
  () => {
    let c: Container;
    const sh = async (script: string, timeoutMs?: number) => {
      const result = await c.exec(["sh", "-c", script], timeoutMs ? { timeoutMs } : {});
      if (result.code !== 0)
        throw new Error(`${script}: exit ${result.code}\n${result.stdout}${result.stderr}`);
      return result.stdout;
    };
    const ctl = (args: string) =>
      sh(`EDGESOCKS_TOKEN=$(cat /var/lib/edgesocks-control/admin-token) edgesocksctl ${args}`);
    const waitFor = async (script: string, what: string) => {
      const deadline = Date.now() + 30_000;
      while (Date.now() < deadline) {
        if ((await c.exec(["sh", "-c", script])).code === 0) return;
        await new Promise((r) => setTimeout(r, 250));
      }
      throw new Error(
        `${what}: not after 30 s\n${await sh("journalctl -u 'edgesocks-*' -n 40 --no-pager || true")}`,
      );
    };
    const curlViaRelay = () =>
      sh("curl -sS --max-time 10 --socks5-hostname 127.0.0.1:1080 http://127.0.0.1:8080/health");

    beforeAll(async () => {
      c = await bootContainer(mkdtempSync("/tmp/esp-root-"));
      c.copyIn(v1.control, "/srv/control.deb");
      c.copyIn(v1.relay, "/srv/relay-v1.deb");
      c.copyIn(v2Relay, "/srv/relay-v2.deb");
    }, 90_000);

    afterAll(async () => {
      await c?.[Symbol.asyncDispose]();
    }, 60_000);

    it("the control plane package installs, creates the account and starts as it", async () => {
      await sh("dpkg -i /srv/control.deb", 90_000);
      expect(await sh("id -un edgesocks")).toBe("edgesocks\n");
      await waitFor("curl -sf http://127.0.0.1:8080/ready", "control plane /ready");
      const pid = (await sh("systemctl show -p MainPID --value edgesocks-control")).trim();
      expect(await sh(`ps -o user= -p ${pid}`)).toBe("edgesocks\n");
      expect(await sh("stat -c '%U %a' /var/lib/edgesocks-control/admin-token")).toBe(
        "edgesocks 600\n",
      );
      expect(await sh("systemctl is-enabled edgesocks-control")).toBe("enabled\n");
      // /docs serves Swagger UI's files from the package's node_modules.
      expect(
        await sh(
          "curl -sf -o /dev/null -w '%{http_code}' http://127.0.0.1:8080/docs/swagger-ui.css",
        ),
      ).toBe("200");
    }, 120_000);

    it("the relay package waits for its settings, then enrolls and relays a curl as the service account", async () => {
      const install = await c.exec(["dpkg", "-i", "/srv/relay-v1.deb"], { timeoutMs: 90_000 });
      expect(install.code).toBe(0);
      expect(install.stderr).toContain(
        "edgesocks-relay: not started: fill in /etc/edgesocks/relay.env",
      );
      expect((await c.exec(["systemctl", "is-active", "edgesocks-relay"])).stdout).toBe(
        "inactive\n",
      );

      const enrolled = await ctl("nodes enroll relay-pkg-1 --region pkg --json");
      const token = /ese_[\w-]+/.exec(enrolled)![0];
      await sh(
        `umask 077 && printf '%s\\n' '${token}' > /etc/edgesocks/relay-node-token && ` +
          "sed -i 's|^EDGESOCKS_CONTROL_URL=$|EDGESOCKS_CONTROL_URL=ws://127.0.0.1:8080/trpc|; " +
          "s|^EDGESOCKS_REGION=$|EDGESOCKS_REGION=pkg|; s|^EDGESOCKS_NAME=$|EDGESOCKS_NAME=relay-pkg-1|' /etc/edgesocks/relay.env && " +
          "systemctl restart edgesocks-relay",
      );
      await waitFor("curl -sf http://127.0.0.1:9100/ready", "relay /ready");
      expect(await curlViaRelay()).toContain("ok");
      const pid = (await sh("systemctl show -p MainPID --value edgesocks-relay")).trim();
      expect(await sh(`ps -o user= -p ${pid}`)).toBe("edgesocks\n");
      // The token never reached the unit's environment; the relay traded it for a node token.
      expect(await sh(`tr '\\0' '\\n' < /proc/${pid}/environ | grep -c ese_ || true`)).toBe("0\n");
      expect(await sh("cut -c1-4 /var/lib/edgesocks-relay/node-token")).toBe("esn_\n");
    }, 120_000);

    it("an upgrade keeps the settings, the node token and the spool, and restarts on the new version", async () => {
      const token = await sh("cat /var/lib/edgesocks-relay/node-token");
      const pid = (await sh("systemctl show -p MainPID --value edgesocks-relay")).trim();
      // Control plane away: the relay keeps serving and spools the session records.
      const spool = "cat /var/lib/edgesocks-relay/spool/segment-*.ndjson";
      await sh("systemctl stop edgesocks-control");
      // Nothing listens on :8080 now: the session fails, and its record waits in the spool.
      expect(await curlViaRelay().catch((e: Error) => e.message)).not.toContain("ok");
      await waitFor(
        `${spool} | grep -q connect_failed`,
        "the failed session's record in the spool",
      );
      const spooled = (await sh(`${spool} | grep connect_failed`)).trim();

      await sh("dpkg -i /srv/relay-v2.deb", 90_000);
      expect(await sh("grep -c '^EDGESOCKS_NAME=relay-pkg-1$' /etc/edgesocks/relay.env")).toBe(
        "1\n",
      );
      expect(await sh("cat /var/lib/edgesocks-relay/node-token")).toBe(token);
      expect(await sh("cat /usr/lib/edgesocks-relay/release.json")).toContain(
        '"version": "0.1.0+e2e2"',
      );
      await waitFor("curl -sf http://127.0.0.1:9100/ready", "relay /ready after the upgrade");
      expect((await sh("systemctl show -p MainPID --value edgesocks-relay")).trim()).not.toBe(pid);
      expect(await sh(spool)).toContain(spooled);

      // Back: the spooled record reaches the control plane (its write thread ingests it).
      await sh("systemctl start edgesocks-control");
      await waitFor("curl -sf http://127.0.0.1:8080/ready", "control plane /ready again");
      const id = /"id":"([0-9a-f-]{36})"/.exec(spooled)![1]!;
      await waitFor(
        `EDGESOCKS_TOKEN=$(cat /var/lib/edgesocks-control/admin-token) edgesocksctl sessions get ${id}`,
        "the spooled session at the control plane",
      );
    }, 150_000);

    it("remove stops the relay and keeps its state; purge deletes state, settings and token", async () => {
      await sh("dpkg -r edgesocks-relay", 60_000);
      expect((await c.exec(["systemctl", "is-active", "edgesocks-relay"])).stdout.trim()).not.toBe(
        "active",
      );
      expect((await c.exec(["curl", "-sf", "http://127.0.0.1:9100/health"])).code).not.toBe(0);
      expect(
        await sh(
          "test ! -e /usr/lib/edgesocks-relay && test -f /etc/edgesocks/relay.env && test -s /var/lib/edgesocks-relay/node-token && echo kept",
        ),
      ).toBe("kept\n");
      await sh("dpkg -P edgesocks-relay", 60_000);
      expect(
        await sh(
          "for p in /var/lib/edgesocks-relay /etc/edgesocks/relay.env /etc/edgesocks/relay-node-token /usr/lib/systemd/system/edgesocks-relay.service; do test -e $p && echo left $p; done; echo done",
        ),
      ).toBe("done\n");
      // The control plane is untouched by the relay's purge.
      expect(await sh("systemctl is-active edgesocks-control")).toBe("active\n");
    }, 120_000);
  },
);
