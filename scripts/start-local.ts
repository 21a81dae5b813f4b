// `npm start`: the local stack — a control plane on 127.0.0.1:8080 with its
// database under ./data, and one relay on 127.0.0.1:1080 enrolled to it.
//
// The relay keeps serving with its last known good policy while the control
// plane is away: a control plane that dies is restarted (capped back-off) and
// the relay ships the sessions it spooled meanwhile once it is back.
//
// Environment: EDGESOCKS_DATA_DIR (./data), EDGESOCKS_CONTROL_PORT (8080),
// EDGESOCKS_RELAY_PORT (1080), EDGESOCKS_RELAY_OPS_PORT (9100),
// EDGESOCKS_CONTROL_RESTART_DELAY_MS (1000: the first restart delay; it doubles up to 10 s),
// EDGESOCKS_LOG_FORMAT (pretty | json: one format for both processes).
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { type ManagedProcess, startProcess, waitFor, waitForHttp } from "../e2e/support/processes";

// Everything the stack writes (database, spool, tokens, snapshot cache) is for this user only,
// from the first byte: the children inherit the umask.
process.umask(0o077);

const root = resolve(import.meta.dirname, "..");
const dataDir = resolve(process.env.EDGESOCKS_DATA_DIR ?? join(root, "data"));
const relayState = join(dataDir, "relay");
const controlPort = Number(process.env.EDGESOCKS_CONTROL_PORT ?? 8080);
const relayPort = Number(process.env.EDGESOCKS_RELAY_PORT ?? 1080);
const opsPort = Number(process.env.EDGESOCKS_RELAY_OPS_PORT ?? 9100);
const controlUrl = `http://127.0.0.1:${controlPort}`;
const adminTokenFile = join(dataDir, "admin-token");
const node = process.execPath;
const logFormat = process.env.EDGESOCKS_LOG_FORMAT ?? "pretty";
if (logFormat !== "pretty" && logFormat !== "json") {
  process.stderr.write(`EDGESOCKS_LOG_FORMAT: expected pretty or json, got "${logFormat}"\n`);
  process.exit(2);
}
/** Back-off before restarting a control plane that died, in ms: doubles from this up to the cap. */
const FIRST_RESTART_DELAY_MS = Number(process.env.EDGESOCKS_CONTROL_RESTART_DELAY_MS ?? 1000);
const MAX_RESTART_DELAY_MS = Math.max(10_000, FIRST_RESTART_DELAY_MS);
/** A control plane that ran this long before dying is restarted after the shortest delay. */
const HEALTHY_RUN_MS = 60_000;

mkdirSync(relayState, { recursive: true, mode: 0o700 });

const say = (line: string) => process.stdout.write(`[local stack] ${line}\n`);

function inherit(proc: ManagedProcess) {
  proc.child.stdout?.pipe(process.stdout);
  proc.child.stderr?.pipe(process.stderr);
}

/** Calls a tRPC mutation over plain HTTP/JSON, as any script can. */
async function mutation<T>(path: string, input: unknown, token: string): Promise<T> {
  const response = await fetch(`${controlUrl}/trpc/${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
    body: JSON.stringify(input),
  });
  const body = (await response.json()) as { result?: { data: T }; error?: { message: string } };
  if (!response.ok || !body.result)
    throw new Error(`${path}: ${body.error?.message ?? response.status}`);
  return body.result.data;
}

function startControl(): ManagedProcess {
  const proc = startProcess({
    name: "local-control",
    command: node,
    args: [join(root, "apps/control/bin/edgesocks-control.mjs")],
    env: {
      DATABASE_URL: `file:${join(dataDir, "control.db")}`,
      HOST: "127.0.0.1",
      PORT: String(controlPort),
      EDGESOCKS_ADMIN_TOKEN_FILE: adminTokenFile,
      EDGESOCKS_LOG_FORMAT: logFormat,
    },
  });
  inherit(proc);
  return proc;
}

const firstStart = !existsSync(adminTokenFile);
let control = startControl();
await waitForHttp(`${controlUrl}/ready`, 60_000);
const adminToken = await waitFor("the admin token file", () =>
  existsSync(adminTokenFile) ? readFileSync(adminTokenFile, "utf8").trim() : undefined,
);

// The relay reads its token from a file: a token on its command line is visible in `ps`.
const nodeTokenFile = join(relayState, "node-token");
let relayTokenFile = nodeTokenFile;
if (!existsSync(nodeTokenFile)) {
  // No node token on disk (first start, or ./data/relay was removed): (re-)enroll.
  const enrolled = await mutation<{ enrollmentToken: string }>(
    "nodes.enroll",
    // Loopback is not a public address unless the enrollment pins it.
    {
      name: "local-1",
      region: "local",
      replace: true,
      publicAddresses: [`127.0.0.1:${relayPort}`],
    },
    adminToken,
  );
  relayTokenFile = join(relayState, "enrollment-token");
  writeFileSync(relayTokenFile, `${enrolled.enrollmentToken}\n`, { mode: 0o600 });
}
const relay = startProcess({
  name: "local-relay",
  command: node,
  args: [
    join(root, "apps/relay/bin/edgesocks-relay.mjs"),
    "--control-url",
    `ws://127.0.0.1:${controlPort}/trpc`,
    "--node-token-file",
    relayTokenFile,
    "--region",
    "local",
    "--name",
    "local-1",
    "--state-dir",
    relayState,
    "--bind",
    "127.0.0.1",
    "--port",
    String(relayPort),
    "--ops-bind",
    `127.0.0.1:${opsPort}`,
    "--public-address",
    `127.0.0.1:${relayPort}`,
    "--log-format",
    logFormat,
    // A local stack is a developer's: often run as root in containers and CI.
    ...(process.getuid?.() === 0 ? ["--allow-root"] : []),
  ],
});
inherit(relay);
await waitForHttp(`http://127.0.0.1:${opsPort}/ready`, 60_000);
if (relayTokenFile !== nodeTokenFile) {
  // Exchanged: the one-time enrollment token is spent, the relay keeps its node token.
  await waitFor("the relay's node token", () => existsSync(nodeTokenFile) || undefined);
  rmSync(relayTokenFile, { force: true });
}

// The control plane printed the admin token itself on its first start; never again after that.
const tokenLine = firstStart
  ? `admin token                printed above, once; stored in ${adminTokenFile} (mode 0600)`
  : `admin token                in ${adminTokenFile} (mode 0600); mint another in the admin app (Settings) or with admins.createToken`;
process.stdout.write(`
EdgeSocks local stack is up.
  control plane + admin app  ${controlUrl}/   (pid ${control.child.pid})
  ${tokenLine}
  SOCKS relay                127.0.0.1:${relayPort}   (pid ${relay.child.pid}; ops: http://127.0.0.1:${opsPort}/metrics)
Try:
  curl --socks5-hostname 127.0.0.1:${relayPort} http://example.com/
  EDGESOCKS_TOKEN="$(cat ${adminTokenFile})" npx edgesocksctl --url ${controlUrl} sessions list
If the control plane dies it is restarted; the relay keeps serving meanwhile.
Ctrl-C stops both.
`);

let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  await relay.stop();
  await control.stop();
  process.exit(0);
};
process.on("SIGINT", stop);
process.on("SIGTERM", stop);
relay.exited.then((code) => {
  if (!stopping) {
    process.stderr.write(`[local stack] relay exited (${code}); stopping\n`);
    void stop();
  }
});

/** Restarts the control plane whenever it dies, waiting 1 s, 2 s, 4 s, … up to the cap. */
async function superviseControl(): Promise<void> {
  let delayMs = FIRST_RESTART_DELAY_MS;
  for (;;) {
    const startedAt = Date.now();
    const code = await control.exited;
    if (stopping) return;
    if (Date.now() - startedAt >= HEALTHY_RUN_MS) delayMs = FIRST_RESTART_DELAY_MS;
    const how = code === null ? `by ${control.child.signalCode}` : `with code ${code}`;
    say(
      `control plane exited ${how}; restarting in ${delayMs / 1000} s (the relay keeps serving with its last policy)`,
    );
    await new Promise((r) => setTimeout(r, delayMs));
    if (stopping) return;
    delayMs = Math.min(delayMs * 2, MAX_RESTART_DELAY_MS);
    control = startControl();
    say(`control plane restarted (pid ${control.child.pid})`);
  }
}
void superviseControl();
