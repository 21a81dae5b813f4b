import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { hash } from "@node-rs/argon2";
import { generateAclRules } from "./acl-rules";
import type { Route } from "./loadgen";
import type { SERVER_IDS } from "./options";
import { PEER_PACKAGES, type PeerId } from "./peer-install";
import { type Managed, startProcess, waitForPort } from "./processes";
import type { CertFiles } from "./tls-cert";
import { DANTE_EXTERNAL, PROXY_HOST, ProxyPort, RELAY_OPS_BIND } from "./topology";

export type ServerId = (typeof SERVER_IDS)[number];

export const SERVER_LABELS: Record<ServerId, string> = {
  direct: "direct (no proxy)",
  microsocks: "microsocks",
  dante: "Dante",
  edgesocks: `EdgeSocks (default: ×${availableParallelism()} threads)`,
  "edgesocks-1thread": "EdgeSocks ×1 thread",
  "edgesocks-userpass": "EdgeSocks +auth",
  "edgesocks-tls": "EdgeSocks +TLS",
  "edgesocks-tls-resumed": "EdgeSocks +TLS resumed",
  "edgesocks-routed": "EdgeSocks via microsocks (one extra hop)",
  "haproxy-tls": "haproxy TLS + microsocks",
  "haproxy-tls-resumed": "haproxy TLS resumed + microsocks",
};

/** How a TLS variant's clients handshake: a full handshake each, or resuming a ticket. */
export const TLS_HANDSHAKE: Partial<Record<ServerId, "full" | "resumed">> = {
  "edgesocks-tls": "full",
  "edgesocks-tls-resumed": "resumed",
  "haproxy-tls": "full",
  "haproxy-tls-resumed": "resumed",
};

/** The Debian peers a server runs (edgesocks-routed and the TLS peer run microsocks too). */
export const PEERS_RUN: Partial<Record<ServerId, readonly PeerId[]>> = {
  microsocks: ["microsocks"],
  dante: ["dante"],
  "edgesocks-routed": ["microsocks"],
  "haproxy-tls": ["haproxy", "microsocks"],
  "haproxy-tls-resumed": ["haproxy", "microsocks"],
};

/** A server being measured; `pid` is null for the direct baseline. */
export interface RunningServer {
  id: ServerId;
  route: Route;
  pid: number | null;
  /** Processes the setup needs but that are not the server measured (edgesocks-routed's parent). */
  helperPids: number[];
  stop(): Promise<void>;
}

export interface ServerContext {
  /** Scratch directory for configuration files. */
  workDir: string;
  /** Write a CPU profile of our relay here; null: no profiling. */
  profileDir: string | null;
  cert: CertFiles | null;
  /** Our relay's entry point: the release build's bundle, or the TypeScript sources' bin (tsx). */
  relayBin: string;
}

/** The credentials the load generator uses against the user/password relay. */
export const BENCH_USER = { username: "bench", password: "bench-password-0123456789" } as const;
/** Other accounts in the user/password relay's config, as a real deployment has. */
const EXTRA_USERS = 19;

/** The relay run from its TypeScript sources through tsx (`--from-source`). */
export const RELAY_SOURCE_BIN = resolve(
  dirname(fileURLToPath(import.meta.url)),
  "../apps/relay/bin/edgesocks-relay.mjs",
);

async function relayConfig(
  variant: "plain" | "one-thread" | "userpass" | "tls",
  cert: CertFiles | null,
): Promise<string> {
  const lines = [
    "[server]",
    `bind_address = "${PROXY_HOST}"`,
    `bind_port = ${ProxyPort.edgesocks}`,
    "max_connections = 20000",
    "handshake_timeout_ms = 10000",
    "idle_timeout_secs = 600",
    "shutdown_grace_ms = 1000",
    // The other variants run the default, server.workers = "auto".
    ...(variant === "one-thread" ? ["workers = 1"] : []),
    "",
  ];
  if (variant === "tls") {
    if (!cert) throw new Error("edgesocks-tls: no certificate");
    lines.push(
      "[server.tls]",
      "enabled = true",
      `certificate_path = ${JSON.stringify(cert.certificatePath)}`,
      `private_key_path = ${JSON.stringify(cert.privateKeyPath)}`,
      'min_protocol_version = "TLSv1.2"',
      "",
    );
  }
  lines.push("[auth]", `socks_method = "${variant === "userpass" ? "userpass" : "none"}"`, "");
  if (variant === "userpass") {
    const users = [
      BENCH_USER.username,
      ...Array.from({ length: EXTRA_USERS }, (_, i) => `user${String(i + 1).padStart(3, "0")}`),
    ];
    for (const username of users) {
      const password =
        username === BENCH_USER.username ? BENCH_USER.password : `${username}-secret`;
      lines.push(
        "[[auth.users]]",
        `username = "${username}"`,
        `password_hash = "${await hash(password)}"`,
        "",
      );
    }
  }
  lines.push(
    "[acl]",
    "enabled = true",
    'config_file = "acl.toml"',
    "",
    "[ops]",
    `bind = "${RELAY_OPS_BIND}"`,
    "",
    "[logging]",
    'level = "warn"',
    'format = "json"',
    "",
  );
  return lines.join("\n");
}

async function startRelay(id: ServerId, context: ServerContext): Promise<Managed> {
  const variant =
    id === "edgesocks-userpass"
      ? "userpass"
      : TLS_HANDSHAKE[id]
        ? "tls"
        : id === "edgesocks-1thread"
          ? "one-thread"
          : "plain";
  const dir = join(context.workDir, id);
  mkdirSync(dir, { recursive: true });
  // edgesocks-routed: the same rules, the targets' allow rule routed through the microsocks parent.
  const parent =
    id === "edgesocks-routed" ? { host: PROXY_HOST, port: ProxyPort.parent } : undefined;
  writeFileSync(join(dir, "acl.toml"), generateAclRules(1000, parent).toml);
  const configPath = join(dir, "relay.toml");
  writeFileSync(configPath, await relayConfig(variant, context.cert));
  // As deployed (deploy/bin/edgesocks-relay-launch, the bin's shebang): a 16 MiB semi-space.
  const nodeFlags = [
    "--max-semi-space-size=16",
    ...(context.profileDir
      ? ["--cpu-prof", "--cpu-prof-dir", context.profileDir, "--cpu-prof-name", `${id}.cpuprofile`]
      : []),
  ];
  // The bench runs as root (it apt-gets the peers); the relay refuses root unless told.
  return startProcess({
    name: id,
    command: process.execPath,
    args: [...nodeFlags, context.relayBin, "--config", configPath, "--allow-root"],
    cwd: dir,
  });
}

function startDante(context: ServerContext): Managed {
  const dir = join(context.workDir, "dante");
  mkdirSync(dir, { recursive: true });
  const config = join(dir, "danted.conf");
  writeFileSync(
    config,
    [
      "logoutput: /dev/null",
      `internal: ${PROXY_HOST} port = ${ProxyPort.dante}`,
      `external: ${DANTE_EXTERNAL}`,
      "clientmethod: none",
      "socksmethod: none",
      "user.privileged: root",
      "user.unprivileged: nobody",
      "timeout.negotiate: 30",
      "timeout.io: 0",
      "client pass {",
      "  from: 0.0.0.0/0 to: 0.0.0.0/0",
      "}",
      "socks pass {",
      "  from: 0.0.0.0/0 to: 0.0.0.0/0",
      "  command: connect",
      "}",
      "",
    ].join("\n"),
  );
  return startProcess({
    name: "dante",
    command: PEER_PACKAGES.dante.binary,
    args: ["-f", config, "-p", join(dir, "danted.pid")],
    cwd: dir,
  });
}

/**
 * The TLS peer: haproxy terminating TLS (its default ticket resumption, one thread per core)
 * in front of microsocks. One shell parents both, so the process tree measured for CPU and
 * memory holds the pair, and stopping the shell stops both.
 */
function startTlsPeer(context: ServerContext): Managed {
  if (!context.cert) throw new Error("haproxy-tls: no certificate");
  const dir = join(context.workDir, "haproxy-tls");
  mkdirSync(dir, { recursive: true });
  const pem = join(dir, "server.pem");
  writeFileSync(
    pem,
    readFileSync(context.cert.certificatePath, "utf8") +
      readFileSync(context.cert.privateKeyPath, "utf8"),
  );
  const config = join(dir, "haproxy.cfg");
  // maxconn: the idle run holds 9,900 connections, two descriptors each, under a 20,000 limit.
  writeFileSync(
    config,
    [
      "global",
      "  maxconn 9950",
      "  log stdout format raw local0 emerg",
      "defaults",
      "  mode tcp",
      "  maxconn 9950",
      "  timeout connect 10s",
      "  timeout client 600s",
      "  timeout server 600s",
      "frontend socks_tls",
      `  bind ${PROXY_HOST}:${ProxyPort.tlsPeer} ssl crt ${pem} ssl-min-ver TLSv1.2`,
      "  default_backend microsocks",
      "backend microsocks",
      `  server microsocks ${PROXY_HOST}:${ProxyPort.parent}`,
      "",
    ].join("\n"),
  );
  const microsocks = `${PEER_PACKAGES.microsocks.binary} -i ${PROXY_HOST} -p ${ProxyPort.parent} 2>/dev/null`;
  const haproxy = `${PEER_PACKAGES.haproxy.binary} -db -f ${config}`;
  return startProcess({
    name: "haproxy-tls",
    command: "/bin/sh",
    args: [
      "-c",
      `${microsocks} & m=$!; ${haproxy} & h=$!; trap 'kill $m $h; wait; exit 0' TERM INT; wait`,
    ],
    cwd: dir,
  });
}

/** Starts one server under test and waits until its SOCKS port accepts connections. */
export async function startServer(id: ServerId, context: ServerContext): Promise<RunningServer> {
  if (id === "direct") return { id, route: {}, pid: null, helperPids: [], stop: async () => {} };
  let managed: Managed;
  let port: number;
  const helperPids: number[] = [];
  if (id === "microsocks") {
    port = ProxyPort.microsocks;
    // microsocks logs a line per connection to stderr; reading it would load the bench's own process.
    managed = startProcess({
      name: id,
      command: PEER_PACKAGES.microsocks.binary,
      args: ["-i", PROXY_HOST, "-p", String(port)],
      stderr: "ignore",
    });
  } else if (id === "dante") {
    port = ProxyPort.dante;
    managed = startDante(context);
  } else if (id === "haproxy-tls" || id === "haproxy-tls-resumed") {
    port = ProxyPort.tlsPeer;
    managed = startTlsPeer(context);
  } else if (id === "edgesocks-routed") {
    port = ProxyPort.edgesocks;
    const parent = startProcess({
      name: "microsocks-parent",
      command: PEER_PACKAGES.microsocks.binary,
      args: ["-i", PROXY_HOST, "-p", String(ProxyPort.parent)],
      stderr: "ignore",
    });
    await waitForPort(parent, PROXY_HOST, ProxyPort.parent);
    const relay = await startRelay(id, context).catch(async (error: unknown) => {
      await parent.stop(1000);
      throw error;
    });
    // The relay's pid is the one measured; the parent's CPU and memory are not counted (nor
    // taken for other processes' load on the machine).
    helperPids.push(parent.pid);
    managed = {
      ...relay,
      stop: async (graceMs?: number) => {
        await relay.stop(graceMs);
        await parent.stop(graceMs);
      },
    };
  } else {
    port = ProxyPort.edgesocks;
    managed = await startRelay(id, context);
  }
  try {
    await waitForPort(managed, PROXY_HOST, port);
  } catch (error) {
    await managed.stop(1000);
    throw error;
  }
  const route: Route = {
    proxy: {
      host: PROXY_HOST,
      port,
      proto: "socks5",
      ...(id === "edgesocks-userpass"
        ? { user: BENCH_USER.username, password: BENCH_USER.password }
        : {}),
      ...(TLS_HANDSHAKE[id] ? { tls: true, tlsResume: TLS_HANDSHAKE[id] === "resumed" } : {}),
    },
  };
  return { id, route, pid: managed.pid, helperPids, stop: () => managed.stop() };
}
