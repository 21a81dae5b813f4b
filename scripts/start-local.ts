// `npm start`: the local stack — a control plane on 127.0.0.1:8080 with its
// database under ./data, and one relay on 127.0.0.1:1080 enrolled to it.
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { type ManagedProcess, startProcess, waitFor, waitForHttp } from "../e2e/support/processes";

const root = resolve(import.meta.dirname, "..");
const dataDir = resolve(process.env.EDGESOCKS_DATA_DIR ?? join(root, "data"));
const relayState = join(dataDir, "relay");
const controlPort = Number(process.env.EDGESOCKS_CONTROL_PORT ?? 8080);
const relayPort = Number(process.env.EDGESOCKS_RELAY_PORT ?? 1080);
const opsPort = Number(process.env.EDGESOCKS_RELAY_OPS_PORT ?? 9100);
const controlUrl = `http://127.0.0.1:${controlPort}`;
const node = process.execPath;

mkdirSync(relayState, { recursive: true });

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

const control = startProcess({
  name: "local-control",
  command: node,
  args: [join(root, "apps/control/bin/edgesocks-control.mjs")],
  env: {
    DATABASE_URL: `file:${join(dataDir, "control.db")}`,
    HOST: "127.0.0.1",
    PORT: String(controlPort),
    EDGESOCKS_ADMIN_TOKEN_FILE: join(dataDir, "admin-token"),
    LOG_FORMAT: "pretty",
  },
});
inherit(control);
await waitForHttp(`${controlUrl}/ready`, 60_000);
const adminToken = await waitFor("the admin token file", () => {
  const path = join(dataDir, "admin-token");
  return existsSync(path) ? readFileSync(path, "utf8").trim() : undefined;
});

const nodeTokenPath = join(relayState, "node-token");
let relayToken: string;
if (existsSync(nodeTokenPath)) {
  relayToken = readFileSync(nodeTokenPath, "utf8").trim();
} else {
  // No node token on disk (first start, or ./data/relay was removed): (re-)enroll.
  const enrolled = await mutation<{ enrollmentToken: string }>(
    "nodes.enroll",
    { name: "local-1", region: "local", replace: true },
    adminToken,
  );
  relayToken = enrolled.enrollmentToken;
}
const relay = startProcess({
  name: "local-relay",
  command: node,
  args: [
    join(root, "apps/relay/bin/edgesocks-relay.mjs"),
    "--control-url",
    `ws://127.0.0.1:${controlPort}/trpc`,
    "--node-token",
    relayToken,
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
    "pretty",
    // A local stack is a developer's: often run as root in containers and CI.
    ...(process.getuid?.() === 0 ? ["--allow-root"] : []),
  ],
});
inherit(relay);
await waitForHttp(`http://127.0.0.1:${opsPort}/ready`, 60_000);

process.stdout.write(`
EdgeSocks local stack is up.
  control plane + admin app  ${controlUrl}/        (admin token in ${join(dataDir, "admin-token")})
  admin token                ${adminToken}
  SOCKS relay                127.0.0.1:${relayPort}   (ops: http://127.0.0.1:${opsPort}/metrics)
Try:
  curl --socks5-hostname 127.0.0.1:${relayPort} http://example.com/
  npx edgesocksctl --url ${controlUrl} --token ${adminToken} sessions list
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
    process.stderr.write(`relay exited (${code}); stopping\n`);
    void stop();
  }
});
control.exited.then((code) => {
  if (!stopping) {
    process.stderr.write(`control plane exited (${code}); stopping\n`);
    void stop();
  }
});
