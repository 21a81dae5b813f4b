import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join, resolve } from "node:path";
import type { AppRouter } from "@edgesocks/api";
import { createTRPCClient, httpLink, type TRPCClient } from "@trpc/client";
import { type BrowserContext, chromium, type Page } from "playwright-core";
import { freePort } from "./ports";
import { type ManagedProcess, OUTPUT_DIR, startProcess, waitFor, waitForHttp } from "./processes";

const ROOT = resolve(import.meta.dirname, "..", "..");
const CONTROL_BIN = join(ROOT, "apps/control/bin/edgesocks-control.mjs");
const RELAY_BIN = join(ROOT, "apps/relay/bin/edgesocks-relay.mjs");
export const ADMIN_DIST = join(ROOT, "apps/admin/dist");
export const CHROMIUM = "/usr/bin/chromium";
/** Screenshots of every page of the admin app (not committed). */
export const SCREENSHOT_DIR = join(OUTPUT_DIR, "admin");

export type AdminApi = TRPCClient<AppRouter>;

export function adminApi(url: string, token: string): AdminApi {
  return createTRPCClient<AppRouter>({
    links: [
      httpLink({ url: `${url}/trpc`, headers: () => ({ authorization: `Bearer ${token}` }) }),
    ],
  });
}

export interface Control {
  url: string;
  port: number;
  adminToken: string;
  process: ManagedProcess;
}

/**
 * edgesocks-control on a libSQL file in `dir` (fresh on the first start); the first admin token is
 * read from its token file. Pass `port` to start it again where it was.
 */
export async function startAdminControl(dir: string, port?: number): Promise<Control> {
  port ??= await freePort();
  const tokenFile = join(dir, "admin-token");
  const proc = startProcess({
    name: "admin-e2e-control",
    command: process.execPath,
    args: [CONTROL_BIN],
    env: {
      DATABASE_URL: `file:${join(dir, "control.db")}`,
      HOST: "127.0.0.1",
      PORT: String(port),
      EDGESOCKS_ADMIN_TOKEN_FILE: tokenFile,
      EDGESOCKS_ADMIN_DIST: ADMIN_DIST,
      EDGESOCKS_LOG_LEVEL: "info",
    },
  });
  const url = `http://127.0.0.1:${port}`;
  await Promise.race([
    waitForHttp(`${url}/ready`, 30_000),
    proc.exited.then((code) => {
      throw new Error(`edgesocks-control exited with ${code}: ${proc.output().slice(-2000)}`);
    }),
  ]);
  const adminToken = await waitFor("the admin token file", () =>
    existsSync(tokenFile) ? readFileSync(tokenFile, "utf8").trim() || undefined : undefined,
  );
  return { url, port, adminToken, process: proc };
}

export interface Relay {
  socksPort: number;
  process: ManagedProcess;
}

/**
 * A PAM service no host has: the admin relay's `pam.username` is unavailable on any machine, so
 * the Nodes page's ERROR state does not depend on what /etc/pam.d holds.
 */
export const ABSENT_PAM_SERVICE = "edgesocks-admin-e2e-absent";

/** edgesocks-relay in fleet mode on a free loopback port, enrolled with `token`. */
export async function startAdminRelay(options: {
  dir: string;
  controlPort: number;
  token: string;
  name: string;
  region: string;
}): Promise<Relay> {
  const socksPort = await freePort();
  const opsPort = await freePort();
  const stateDir = join(options.dir, `relay-${options.name}`);
  mkdirSync(stateDir, { recursive: true });
  const configPath = join(stateDir, "relay.toml");
  writeFileSync(configPath, `[auth.pam]\nusername_service = "${ABSENT_PAM_SERVICE}"\n`);
  const proc = startProcess({
    name: `admin-e2e-relay-${options.name}`,
    command: process.execPath,
    args: [
      RELAY_BIN,
      "--config",
      configPath,
      "--control-url",
      `ws://127.0.0.1:${options.controlPort}/trpc`,
      "--node-token",
      options.token,
      "--region",
      options.region,
      "--name",
      options.name,
      "--state-dir",
      stateDir,
      "--bind",
      "127.0.0.1",
      "--port",
      String(socksPort),
      "--ops-bind",
      `127.0.0.1:${opsPort}`,
      ...(process.getuid?.() === 0 ? ["--allow-root"] : []),
    ],
  });
  await Promise.race([
    waitForHttp(`http://127.0.0.1:${opsPort}/ready`, 30_000),
    proc.exited.then((code) => {
      throw new Error(`edgesocks-relay exited with ${code}: ${proc.output().slice(-2000)}`);
    }),
  ]);
  return { socksPort, process: proc };
}

export interface Target {
  port: number;
  close(): Promise<void>;
}

/**
 * An HTTP server for traffic through the relay: `/data` answers 64 KiB at once, `/slow` streams
 * 1 KiB every 100 ms until the client goes away (a long-lived session to watch and terminate).
 */
export async function startTarget(): Promise<Target> {
  const timers = new Set<NodeJS.Timeout>();
  const server: Server = createServer((req, res) => {
    if (req.url === "/slow") {
      res.writeHead(200, { "content-type": "application/octet-stream" });
      const timer = setInterval(() => res.write(Buffer.alloc(1024, 120)), 100);
      timers.add(timer);
      res.on("close", () => {
        clearInterval(timer);
        timers.delete(timer);
      });
      return;
    }
    res.writeHead(200, { "content-type": "application/octet-stream" });
    res.end(Buffer.alloc(64 * 1024, 97));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((r) => {
        for (const timer of timers) clearInterval(timer);
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/** A curl child process through a SOCKS5 proxy; resolves with its exit code and output. */
export function curlThrough(options: { proxy: string; url: string; maxTimeSec: number }): {
  child: ChildProcess;
  done: Promise<{ code: number | null; stdout: string; stderr: string }>;
} {
  const child = spawn(
    "curl",
    [
      "-sS",
      "-o",
      "/dev/null",
      "-w",
      "%{http_code}",
      "--max-time",
      String(options.maxTimeSec),
      "--proxy",
      options.proxy,
      options.url,
    ],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (c: Buffer) => {
    stdout += c.toString();
  });
  child.stderr?.on("data", (c: Buffer) => {
    stderr += c.toString();
  });
  const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((r) =>
    // "close", not "exit": the output is complete only once the pipes are closed.
    child.once("close", (code) => r({ code, stdout, stderr })),
  );
  return { child, done };
}

/** Debian's chromium through playwright-core, headless, with a fresh profile in `userDataDir`. */
export async function launchBrowser(
  userDataDir: string,
): Promise<{ context: BrowserContext; page: Page }> {
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
    ],
    viewport: { width: 1360, height: 900 },
    acceptDownloads: true,
    timeout: 30_000,
  });
  const page = context.pages()[0] ?? (await context.newPage());
  page.setDefaultTimeout(15_000);
  return { context, page };
}

/** Saves a full-page screenshot as e2e/.output/admin/<name>.png. */
export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  await page.screenshot({ path: join(SCREENSHOT_DIR, `${name}.png`), fullPage: true });
}
