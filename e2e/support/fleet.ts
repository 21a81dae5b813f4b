import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { AppRouter } from "@edgesocks/api";
import { createTRPCClient, httpLink, type TRPCClient } from "@trpc/client";
import { startHranaServer } from "./hrana-server";
import { createTestNetwork, type RegionHost, type TestNetwork } from "./netns";
import { freePort } from "./ports";
import { type ManagedProcess, startProcess, waitFor, waitForHttp } from "./processes";

const ROOT = resolve(import.meta.dirname, "..", "..");
export const CONTROL_BIN = join(ROOT, "apps/control/bin/edgesocks-control.mjs");
export const RELAY_BIN = join(ROOT, "apps/relay/bin/edgesocks-relay.mjs");
export const ADMIN_TOKEN = `esa_${"e2e".repeat(10)}`;

export type Api = TRPCClient<AppRouter>;

export function apiClient(url: string, token = ADMIN_TOKEN): Api {
  return createTRPCClient<AppRouter>({
    links: [
      httpLink({ url: `${url}/trpc`, headers: () => ({ authorization: `Bearer ${token}` }) }),
    ],
  });
}

export interface ControlPlane {
  url: string;
  host: string;
  port: number;
  process: ManagedProcess;
  api: Api;
}

/** Where the control plane's database is: DATABASE_URL and DATABASE_AUTH_TOKEN. */
export interface DatabaseTarget {
  url: string;
  authToken?: string;
}

/** The fleet's database: a libSQL file, or a libSQL server (our Hrana test server) over one. */
export type DatabaseKind = "file" | "http";
export const DATABASE_KINDS: readonly DatabaseKind[] = ["file", "http"];

/** Starts edgesocks-control as its own process on `database` (default: the libSQL file). */
export async function startControl(options: {
  name: string;
  dbPath: string;
  database?: DatabaseTarget;
  host: string;
  port?: number;
  migrate?: boolean;
}): Promise<ControlPlane> {
  const database = options.database ?? { url: `file:${options.dbPath}` };
  const port = options.port ?? (await freePort(options.host));
  const process_ = startProcess({
    name: options.name,
    command: process.execPath,
    args: [CONTROL_BIN],
    env: {
      DATABASE_URL: database.url,
      ...(database.authToken ? { DATABASE_AUTH_TOKEN: database.authToken } : {}),
      HOST: options.host,
      PORT: String(port),
      EDGESOCKS_ADMIN_TOKEN: ADMIN_TOKEN,
      EDGESOCKS_ADMIN_TOKEN_FILE: `${options.dbPath}.admin-token`,
      EDGESOCKS_MIGRATE_ON_START: options.migrate === false ? "false" : "true",
      EDGESOCKS_LOG_LEVEL: "info",
    },
  });
  const url = `http://${options.host}:${port}`;
  await Promise.race([
    waitForHttp(`${url}/ready`, 30_000),
    process_.exited.then((code) => {
      throw new Error(`${options.name} exited with ${code}: ${process_.output().slice(-2000)}`);
    }),
  ]);
  return { url, host: options.host, port, process: process_, api: apiClient(url) };
}

export interface FleetRelay {
  name: string;
  region: string;
  host: RegionHost;
  socks: string;
  opsUrl: string;
  stateDir: string;
  process: ManagedProcess;
  /** Starts (or restarts) the relay process with the same state dir. */
  start(controlUrl?: string): Promise<void>;
}

/** A relay in fleet mode, run inside its region's namespace when there is one. */
export function fleetRelay(options: {
  name: string;
  region: string;
  host: RegionHost;
  controlUrl: string;
  token: string;
  baseDir: string;
  /** Extra relay.toml text (e.g. `[dns.hosts]` for test names). */
  configToml?: string;
  /** SOCKS-serving threads (`--workers`; the relay's own default is one per core). @default 1 */
  workers?: number;
}): FleetRelay {
  const stateDir = join(options.baseDir, options.name);
  mkdirSync(stateDir, { recursive: true });
  const configPath = join(stateDir, "relay.toml");
  writeFileSync(
    configPath,
    `${options.configToml ?? ""}\n[logging]\nlevel = "info"\nformat = "json"\n`,
  );
  const port = 1080;
  const opsPort = 9100;
  const relay: FleetRelay = {
    name: options.name,
    region: options.region,
    host: options.host,
    socks: `${options.host.address}:${port}`,
    opsUrl: `http://${options.host.address}:${opsPort}`,
    stateDir,
    process: undefined as unknown as ManagedProcess,
    async start(controlUrl = options.controlUrl) {
      const [command, ...prefix] =
        options.host.exec.length > 0 ? options.host.exec : [process.execPath];
      const args = [
        ...(options.host.exec.length > 0 ? [...prefix, process.execPath] : []),
        RELAY_BIN,
        "--config",
        configPath,
        "--control-url",
        `${controlUrl.replace(/^http/, "ws")}/trpc`,
        "--node-token",
        options.token,
        "--region",
        options.region,
        "--name",
        options.name,
        "--state-dir",
        stateDir,
        "--bind",
        options.host.address,
        "--port",
        String(port),
        "--ops-bind",
        `${options.host.address}:${opsPort}`,
        "--public-address",
        relay.socks,
        ...["--workers", String(options.workers ?? 1)],
        ...(process.getuid?.() === 0 ? ["--allow-root"] : []),
      ];
      relay.process = startProcess({ name: `relay-${options.name}`, command: command!, args });
      await Promise.race([
        waitForHttp(`${relay.opsUrl}/ready`, 30_000),
        relay.process.exited.then((code) => {
          throw new Error(
            `relay ${options.name} exited with ${code}: ${relay.process.output().slice(-2000)}`,
          );
        }),
      ]);
    },
  };
  return relay;
}

export interface Fleet {
  network: TestNetwork;
  dir: string;
  /** The database file (served over HTTP when the fleet's kind is "http"). */
  dbPath: string;
  /** What the control planes connect to; tests open their own clients with it. */
  database: DatabaseTarget;
  control: ControlPlane;
  relays: FleetRelay[];
  restartControl(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

export const REGIONS = ["eu-west", "us-east", "ap-south"] as const;

const HRANA_AUTH_TOKEN = "e2e-hrana-token";

/**
 * A control plane and three relays, one per region, enrolled through the API as an operator
 * would. The database is a real libSQL file, or with `database: "http"` that file behind our
 * Hrana test server (DATABASE_URL=http://127.0.0.1:PORT with an auth token), as a fleet on Turso
 * or sqld runs.
 */
export async function startFleet(
  configToml: (network: TestNetwork) => string = () => "",
  options: { database?: DatabaseKind } = {},
): Promise<Fleet> {
  const network = createTestNetwork([...REGIONS]);
  const dir = mkdtempSync(join(tmpdir(), "edgesocks-fleet-"));
  const dbPath = join(dir, "control.db");
  const processes: ManagedProcess[] = [];
  let closeHrana = async () => {};
  const teardown = async () => {
    await Promise.all(processes.map((p) => p.kill()));
    for (const relay of relays) await relay.process?.kill();
    await closeHrana();
    network.teardown();
    rmSync(dir, { recursive: true, force: true });
  };
  const relays: FleetRelay[] = [];
  try {
    let database: DatabaseTarget = { url: `file:${dbPath}` };
    if (options.database === "http") {
      const hrana = await startHranaServer({ path: dbPath, authToken: HRANA_AUTH_TOKEN });
      closeHrana = () => hrana.close();
      database = { url: hrana.url, authToken: HRANA_AUTH_TOKEN };
    }
    const controlPort = await freePort(network.gateway);
    let control = await startControl({
      name: "control",
      dbPath,
      database,
      host: network.gateway,
      port: controlPort,
    });
    processes.push(control.process);
    for (const [i, region] of REGIONS.entries()) {
      const name = `relay-${region}`;
      const { enrollmentToken } = await control.api.nodes.enroll.mutate({ name, region });
      const relay = fleetRelay({
        name,
        region,
        host: network.hosts[i]!,
        controlUrl: control.url,
        token: enrollmentToken,
        baseDir: dir,
        configToml: configToml(network),
        // One relay runs two threads, so every scenario also covers a multi-threaded node.
        ...(region === "ap-south" ? { workers: 2 } : {}),
      });
      relays.push(relay);
    }
    await Promise.all(relays.map((r) => r.start()));
    const fleet: Fleet = {
      network,
      dir,
      dbPath,
      database,
      get control() {
        return control;
      },
      relays,
      async restartControl() {
        await control.process.stop();
        control = await startControl({
          name: "control",
          dbPath,
          database,
          host: network.gateway,
          port: controlPort,
        });
        processes.push(control.process);
      },
      [Symbol.asyncDispose]: teardown,
    };
    return fleet;
  } catch (error) {
    await teardown();
    throw error;
  }
}

/** Waits until every fleet relay (or the named nodes) reports `version` as applied (nodes.list). */
export async function waitForVersion(
  api: Api,
  version: number,
  timeoutMs = 10_000,
  names: readonly string[] = REGIONS.map((r) => `relay-${r}`),
): Promise<void> {
  await waitFor(
    `${names.join(", ")} at version ${version}`,
    async () => {
      const nodes = (await api.nodes.list.query()).filter((n) => names.includes(n.name));
      return nodes.length === names.length &&
        nodes.every((n) => n.appliedVersion !== null && n.appliedVersion >= version)
        ? true
        : undefined;
    },
    timeoutMs,
    20,
  );
}
